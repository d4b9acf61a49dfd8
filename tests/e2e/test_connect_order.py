"""On connect a socket hears, in order: the namespace CONNECT packet, ``authenticated``, ``connection_established``.

Socket.IO clients treat a socket as connected only once CONNECT arrives; events sent before it are
not events of a connected socket (the ElizaOS web client expects the greeting after it, as its
server sends it). Read here as raw Engine.IO polling, so the order on the wire is what is checked.
"""

from __future__ import annotations

import json

import httpx

from tests.conftest import new_id
from tests.support.server import ServerProcess

SEPARATOR = "\x1e"  # Engine.IO 4 joins polled packets with a record separator


def packets_after_connecting(server: ServerProcess, auth: dict[str, str], count: int) -> list[str]:
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    with httpx.Client(timeout=10) as http:
        opened = http.get(base).text
        assert opened.startswith("0{"), opened
        sid = json.loads(opened[1:])["sid"]
        assert http.post(f"{base}&sid={sid}", content="40" + json.dumps(auth)).status_code == 200
        packets: list[str] = []
        while len(packets) < count:
            packets += [p for p in http.get(f"{base}&sid={sid}").text.split(SEPARATOR) if p]
        http.post(f"{base}&sid={sid}", content="1")  # close
    return packets


async def test_connect_comes_before_authenticated_and_connection_established(server: ServerProcess) -> None:
    entity = new_id()
    connect, authenticated, established = packets_after_connecting(server, {"entityId": entity}, 3)
    assert connect.startswith("40{") and "sid" in json.loads(connect[2:])
    name, body = json.loads(authenticated[2:])
    assert authenticated.startswith("42") and (name, body["entityId"]) == ("authenticated", entity)
    name, body = json.loads(established[2:])
    assert established.startswith("42") and name == "connection_established"
    assert body["socketId"] == json.loads(connect[2:])["sid"]


async def test_an_anonymous_socket_gets_connect_then_connection_established(server: ServerProcess) -> None:
    connect, established = packets_after_connecting(server, {}, 2)
    assert connect.startswith("40{") and json.loads(established[2:])[0] == "connection_established"
