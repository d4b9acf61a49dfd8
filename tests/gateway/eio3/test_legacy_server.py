"""``LegacyCompatibleAsyncServer`` at the wire level, without Node.

Polling is driven in-process through httpx's ASGI transport; raw websocket frames go to the
uvicorn ``live_server``. The end-to-end tests with the real npm clients are in
``test_legacy_clients_e2e.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
import socketio
from engineio import packet as eio_packet
from websockets.asyncio.client import connect as ws_connect

from eliza_messaging.gateway.eio3 import (
    EIO3_DISABLED_MESSAGE,
    EIO3Socket,
    LegacyCompatibleAsyncServer,
    LegacyEngineIOServer,
    is_legacy,
)
from eliza_messaging.gateway.eio3 import codec as eio3

if TYPE_CHECKING:
    from .conftest import LiveServer, TestApp

PATH = "/socket.io/"


class Polling:
    """A hand-written Engine.IO 3 polling client, speaking raw payloads."""

    def __init__(self, http: httpx.AsyncClient, *, b64: bool = True, query: str = "", eio: str = "3") -> None:
        self.http = http
        self.b64 = b64
        self.query = query
        self.eio = eio
        self.sid: str | None = None

    def _url(self, extra: str = "") -> str:
        q = f"EIO={self.eio}&transport=polling&t=1"
        if self.sid:
            q += f"&sid={self.sid}"
        elif self.b64:
            q += "&b64=1"
        if self.query:
            q += "&" + self.query
        return f"{PATH}?{q}{extra}"

    def _decode(self, response: httpx.Response) -> list[Any]:
        assert response.status_code == 200, response.text
        if response.headers["content-type"] == eio3.BINARY_CONTENT_TYPE:
            return eio3.decode_binary_payload(response.content)
        return eio3.decode_text_payload(response.text)[0]

    async def handshake(self) -> tuple[dict[str, Any], list[Any]]:
        response = await self.http.get(self._url())
        packets = self._decode(response)
        assert packets[0].packet_type == eio_packet.OPEN
        self.sid = packets[0].data["sid"]
        return packets[0].data, packets[1:]

    async def get(self) -> list[Any]:
        return self._decode(await asyncio.wait_for(self.http.get(self._url()), 5))

    async def post(self, body: str | bytes, content_type: str = "text/plain;charset=UTF-8") -> httpx.Response:
        return await self.http.post(self._url(), content=body, headers={"Content-Type": content_type})

    async def send(self, *packets: str) -> None:
        body = "".join(f"{eio3.utf16_len(p)}:{p}" for p in packets)
        response = await self.post(body)
        assert response.status_code == 200, response.text

    async def receive_until(self, predicate: Callable[[list[Any]], bool]) -> list[Any]:
        """GET until the packets received so far satisfy ``predicate``."""
        seen: list[Any] = []
        while not predicate(seen):
            seen += await self.get()
        return seen


def _texts(packets: list[Any]) -> list[Any]:
    return [(p.packet_type, p.data) for p in packets]


def _messages(packets: list[Any]) -> list[Any]:
    return [p.data for p in packets if p.packet_type == eio_packet.MESSAGE]


@pytest.fixture
async def serve(app_factory: Callable[..., TestApp]) -> AsyncIterator[Callable[..., tuple[TestApp, httpx.AsyncClient]]]:
    """Build a test app and an httpx client talking to it in-process."""
    made: list[tuple[TestApp, httpx.AsyncClient]] = []

    def make(**kwargs: Any) -> tuple[TestApp, httpx.AsyncClient]:
        app = app_factory(**kwargs)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app.asgi), base_url="http://testserver")
        made.append((app, client))
        return app, client

    yield make
    for app, client in made:
        await client.aclose()
        await app.sio.shutdown()


# ------------------------------------------------------------------------------ handshake


async def test_eio3_handshake_base64_polling(serve: Any) -> None:
    app, http = serve(ping_interval=7, ping_timeout=3)
    client = Polling(http, query="entityId=e-1&apiKey=k%201")
    response = await http.get(client._url())
    assert response.headers["content-type"] == eio3.TEXT_CONTENT_TYPE
    packets, _ = eio3.decode_text_payload(response.text)
    opened = packets[0].data
    assert packets[0].packet_type == eio_packet.OPEN
    assert opened == {"sid": opened["sid"], "upgrades": ["websocket"], "pingInterval": 7000, "pingTimeout": 3000}
    # Socket.IO protocol 3/4: the default namespace is connected without a CONNECT from the client
    assert _texts(packets[1:]) == [(eio_packet.MESSAGE, "0")]

    ((sid, seen),) = app.connections.items()
    assert seen["auth"] is None
    assert seen["legacy"] is True
    assert seen["entityId"] == "e-1"
    assert "EIO=3" in seen["query"] and "apiKey=k%201" in seen["query"]
    assert app.sio.is_legacy(sid) and is_legacy(app.sio, sid)
    assert app.sio.is_legacy(opened["sid"])  # the Engine.IO sid works too
    assert isinstance(app.sio.eio.sockets[opened["sid"]], EIO3Socket)


async def test_eio3_handshake_xhr2_gets_binary_framing(serve: Any) -> None:
    _, http = serve()
    client = Polling(http, b64=False)
    response = await http.get(client._url())
    assert response.headers["content-type"] == "application/octet-stream"
    packets = eio3.decode_binary_payload(response.content)
    assert packets[0].packet_type == eio_packet.OPEN
    assert _texts(packets[1:]) == [(eio_packet.MESSAGE, "0")]


async def test_eio4_clients_are_untouched(serve: Any) -> None:
    app, http = serve()
    response = await http.get(f"{PATH}?EIO=4&transport=polling&entityId=e-4")
    assert response.status_code == 200
    assert response.text.startswith('0{"sid":')
    opened = json.loads(response.text[1:])
    assert "maxPayload" in opened and "\x1e" not in response.text  # protocol 4, no automatic "40"
    sid = opened["sid"]
    post = await http.post(
        f"{PATH}?EIO=4&transport=polling&sid={sid}",
        content='40{"entityId":"e-4"}',
        headers={"Content-Type": "text/plain"},
    )
    assert post.status_code == 200
    got = await http.get(f"{PATH}?EIO=4&transport=polling&sid={sid}")
    assert got.text.startswith('40{"sid":')
    (seen,) = app.connections.values()
    assert seen["auth"] == {"entityId": "e-4"}
    assert seen["legacy"] is False
    assert not app.sio.eio.is_eio3(sid)


async def test_eio3_disabled_answers_400_with_instructions(serve: Any) -> None:
    app, http = serve(allow_eio3=False)
    assert app.sio.allow_eio3 is False
    response = await http.get(f"{PATH}?EIO=3&transport=polling&t=1")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == EIO3_DISABLED_MESSAGE
    for needed in (
        "Engine.IO",
        "socket.io-client 1.x/2.x",
        "disabled",
        "ELIZA_ALLOW_EIO3=true",
        "socket.io-client 4.x",
    ):
        assert needed in response.text
    # protocol 4 still works, and the switch can be flipped at run time
    assert (await http.get(f"{PATH}?EIO=4&transport=polling")).status_code == 200
    app.sio.allow_eio3 = True
    assert (await http.get(f"{PATH}?EIO=3&transport=polling&t=2")).status_code == 200


@pytest.mark.parametrize("query", ["EIO=2&transport=polling", "transport=polling", "EIO=5&transport=polling"])
async def test_other_versions_still_rejected(serve: Any, query: str) -> None:
    _, http = serve()
    response = await http.get(f"{PATH}?{query}")
    assert response.status_code == 400
    assert "unsupported version" in response.text
    assert "ELIZA_ALLOW_EIO3" not in response.text


async def test_eio3_invalid_transport_is_still_a_bad_request(serve: Any) -> None:
    _, http = serve()
    response = await http.get(f"{PATH}?EIO=3&transport=carrier-pigeon")
    assert response.status_code == 400
    assert "Invalid transport" in response.text


# ------------------------------------------------------------------------------ polling session


async def test_client_pings_server_pongs(serve: Any) -> None:
    _, http = serve()
    client = Polling(http)
    await client.handshake()
    await client.send("2")
    assert _texts(await client.get()) == [(eio_packet.PONG, "")]
    await client.send("2probe")
    assert _texts(await client.get()) == [(eio_packet.PONG, "probe")]


async def test_events_acks_and_rooms_over_base64_polling(serve: Any) -> None:
    app, http = serve()
    client = Polling(http)
    await client.handshake()
    await client.send('421["join","lobby"]', '422["echo","hi",{"n":1}]')
    got = await client.receive_until(lambda seen: len(_messages(seen)) >= 2)
    assert sorted(_messages(got)) == ['31["lobby"]', '32["hi",{"n":1}]']

    await app.sio.emit("news", {"text": "ünïcode"}, room="lobby")
    got = await client.get()
    assert _messages(got) == ['2["news",{"text":"\\u00fcn\\u00efcode"}]']


async def test_binary_event_and_ack_over_base64_polling(serve: Any) -> None:
    _, http = serve()
    client = Polling(http)
    await client.handshake()
    await client.send('451-7["echo",{"_placeholder":true,"num":0}]', "b4AAH/")
    got = await client.receive_until(lambda seen: len(_messages(seen)) >= 2)
    assert _messages(got) == ['61-7[{"_placeholder":true,"num":0}]', b"\x00\x01\xff"]


async def test_binary_payloads_for_xhr2_clients(serve: Any) -> None:
    app, http = serve()
    client = Polling(http, b64=False)
    await client.handshake()
    body = eio3.encode_binary_payload(
        [
            eio_packet.Packet(eio_packet.MESSAGE, '21["join","bin-room"]'),
            eio_packet.Packet(eio_packet.MESSAGE, '51-2["echo",{"_placeholder":true,"num":0},"é"]'),
            eio_packet.Packet(eio_packet.MESSAGE, b"\xfe\xff"),
        ]
    )
    assert (await client.post(body, "application/octet-stream")).status_code == 200
    got = await client.receive_until(lambda seen: len(_messages(seen)) >= 3)
    # Binary framing carries text as UTF-8, so "é" may arrive raw or \u-escaped depending on the process's
    # JSON codec (python-socketio's codec is process-wide; the app installs orjson): both decode the same.
    joined, echoed, raw = _messages(got)
    assert joined == '31["bin-room"]' and raw == b"\xfe\xff"
    assert echoed in ('61-2[{"_placeholder":true,"num":0},"\\u00e9"]', '61-2[{"_placeholder":true,"num":0},"é"]')
    await app.sio.emit("blob", b"\x00\x01", room="bin-room")
    response = await http.get(client._url())
    assert response.headers["content-type"] == "application/octet-stream"
    assert _messages(eio3.decode_binary_payload(response.content)) == [
        '51-["blob",{"_placeholder":true,"num":0}]',
        b"\x00\x01",
    ]


async def test_socketio_1x_utf8_text_payloads_are_recognised(serve: Any) -> None:
    """socket.io-client 1.x sends each packet UTF-8 encoded as one character per byte."""
    app, http = serve(json=None)
    client = Polling(http)
    await client.handshake()
    packet = '421["echo","héllo 😀"]'.encode().decode("latin-1")
    await client.send(packet)
    (ack,) = _messages(await client.receive_until(_messages))
    assert json.loads(ack[2:]) == ["héllo 😀"]
    assert client.sid is not None
    assert app.sio.eio.sockets[client.sid].text_flavor is eio3.TextFlavor.UTF8_BYTES


async def test_non_ascii_json_from_the_server_is_escaped_for_text_clients(serve: Any, non_ascii_json: Any) -> None:
    _, http = serve(json=non_ascii_json)
    client = Polling(http)
    await client.handshake()
    await client.send('421["echo","ñ 😀"]')
    response = await http.get(client._url())
    assert response.content.isascii()
    assert eio3.decode_text_payload(response.text)[0][0].data == '31["\\u00f1 \\ud83d\\ude00"]'


async def test_duplicate_connect_for_default_namespace_is_ignored(serve: Any) -> None:
    app, http = serve()
    client = Polling(http)
    await client.handshake()
    await client.send("40")
    await client.send("2")
    assert _texts(await client.get()) == [(eio_packet.PONG, "")]
    assert app.connect_calls == 1


async def test_namespace_connect_gets_protocol_4_answer(serve: Any) -> None:
    app, http = serve(namespaces="*")
    client = Polling(http)
    await client.handshake()
    await client.send("40/chat?token=x,")
    assert _messages(await client.get()) == ["0/chat,"]
    await app.sio.emit("hello", "chat", namespace="/chat")
    assert _messages(await client.get()) == ['2/chat,["hello","chat"]']


async def test_rejected_legacy_client_gets_an_error_packet(serve: Any) -> None:
    app, http = serve()
    client = Polling(http, query="reject=1")
    _, rest = await client.handshake()
    assert _messages(rest) == ['4"rejected by the test app"']
    assert app.connections == {}


async def test_client_disconnect(serve: Any) -> None:
    app, http = serve()
    client = Polling(http)
    await client.handshake()
    await client.send("41")
    for _ in range(50):
        if app.disconnects:
            break
        await asyncio.sleep(0.01)
    assert [reason for _, reason in app.disconnects] == ["client disconnect"]


async def test_server_disconnect(serve: Any) -> None:
    app, http = serve()
    client = Polling(http)
    await client.handshake()
    (sid,) = app.connections
    await app.sio.disconnect(sid)
    assert _messages(await client.get()) == ["1"]
    assert [reason for _, reason in app.disconnects] == ["server disconnect"]


async def test_bad_payload_ends_the_session(serve: Any) -> None:
    app, http = serve()
    client = Polling(http)
    await client.handshake()
    assert (await client.post("9:4")).status_code == 400
    assert client.sid not in app.sio.eio.sockets
    assert (await http.get(client._url())).status_code == 400


async def test_silent_client_times_out(serve: Any) -> None:
    app, http = serve(ping_interval=0.1, ping_timeout=0.1)
    client = Polling(http)
    await client.handshake()
    for _ in range(100):
        if app.disconnects:
            break
        await asyncio.sleep(0.02)
    assert [reason for _, reason in app.disconnects] == ["ping timeout"]
    assert (await http.get(client._url())).status_code == 400


async def test_pinging_client_stays(serve: Any) -> None:
    app, http = serve(ping_interval=0.1, ping_timeout=0.1)
    client = Polling(http)
    await client.handshake()
    for _ in range(8):
        await client.send("2")
        assert _texts(await client.get()) == [(eio_packet.PONG, "")]
        await asyncio.sleep(0.05)
    assert app.disconnects == []
    # positive control: a disconnect is recorded when it does happen, and it is the client's, not a timeout
    await client.send("41")
    for _ in range(50):
        if app.disconnects:
            break
        await asyncio.sleep(0.01)
    assert [reason for _, reason in app.disconnects] == ["client disconnect"]


async def test_jsonp_polling(serve: Any) -> None:
    _, http = serve()
    response = await http.get(f"{PATH}?EIO=3&transport=polling&j=2")
    assert response.headers["content-type"].startswith("text/javascript")
    prefix = "___eio[2]("
    assert response.text.startswith(prefix) and response.text.endswith(");")
    packets, _ = eio3.decode_text_payload(json.loads(response.text[len(prefix) : -2]))
    sid = packets[0].data["sid"]
    post = await http.post(
        f"{PATH}?EIO=3&transport=polling&j=2&sid={sid}",
        content="d=" + quote("1:2"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert post.status_code == 200
    got = await http.get(f"{PATH}?EIO=3&transport=polling&j=2&sid={sid}")
    assert got.text == '___eio[2]("1:3");'


def test_public_api() -> None:
    sio = LegacyCompatibleAsyncServer(async_mode="asgi")
    assert isinstance(sio, socketio.AsyncServer)
    assert isinstance(sio.eio, LegacyEngineIOServer)
    assert sio.allow_eio3 is True
    assert LegacyCompatibleAsyncServer(async_mode="asgi", allow_eio3=False).eio.allow_eio3 is False
    assert not is_legacy(socketio.AsyncServer(async_mode="asgi"), "whatever")
    assert not sio.is_legacy("unknown")


# ------------------------------------------------------------------------------ raw websocket


async def _recv(ws: Any) -> Any:
    return await asyncio.wait_for(ws.recv(), 5)


async def test_raw_websocket_binary_frames_have_the_type_byte(live_server: LiveServer) -> None:
    url = live_server.url.replace("http", "ws") + f"{PATH}?EIO=3&transport=websocket&entityId=ws-1"
    async with ws_connect(url) as ws:
        opened = await _recv(ws)
        assert opened.startswith('0{"sid":')
        assert json.loads(opened[1:])["upgrades"] == []
        assert await _recv(ws) == "40"
        await ws.send("2")
        assert await _recv(ws) == "3"
        await ws.send('451-1["echo",{"_placeholder":true,"num":0}]')
        await ws.send(b"\x04\x01\x02\xff")
        assert await _recv(ws) == '461-1[{"_placeholder":true,"num":0}]'
        assert await _recv(ws) == b"\x04\x01\x02\xff"
        await ws.send("b4AQI=")  # base64 attachment from a client without binary websocket support
        await ws.send('451-2["echo",{"_placeholder":true,"num":0}]')
        await ws.send("b4AwQ=")
        assert await _recv(ws) == '461-2[{"_placeholder":true,"num":0}]'
        assert await _recv(ws) == b"\x04\x03\x04"


async def test_raw_websocket_b64_mode_sends_binary_as_text(live_server: LiveServer) -> None:
    url = live_server.url.replace("http", "ws") + f"{PATH}?EIO=3&transport=websocket&b64=1"
    async with ws_connect(url) as ws:
        await _recv(ws)
        assert await _recv(ws) == "40"
        await ws.send('451-1["echo",{"_placeholder":true,"num":0}]')
        await ws.send("b4AQI=")
        assert await _recv(ws) == '461-1[{"_placeholder":true,"num":0}]'
        assert await _recv(ws) == "b4AQI="
