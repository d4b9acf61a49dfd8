"""The Socket.IO checks of ``doctor``, in the order of the seeds' message flow.

connect → ``connection_established`` → join confirmed → the message comes back as
``messageBroadcast`` with the same room id → acknowledged; then, optionally, an agent
answers in a DM. A raw python-socketio client records every event, so a wrong event
name or a wrong room id is seen and named rather than just timing out.
"""

# Waits take a timeout in seconds: every check reports how long it waited.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import socketio

from ..client import ElizaClient, ElizaClientError, ReplyError, ReplyTimeout, RequestError
from ..client.dialects import Dialect, handshake_auth, handshake_headers, join_envelope, send_envelope
from ..client.hangup import hang_up
from .checks import Check, failed, passed, skipped

Seen = tuple[str, Any]

ESTABLISHED = "connection_established"
JOIN = "join confirmed"
BROADCAST = "broadcast to the room"
ACK = "ack"
SOCKET_CHECKS = (ESTABLISHED, JOIN, BROADCAST, ACK)


class _Recorder:
    """Every event the probe socket receives, with a way to wait for the first that matches."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._changed = asyncio.Event()

    def add(self, event: str, data: Any) -> None:
        self.seen.append((event, data))
        self._changed.set()

    def find(self, match: Callable[[str, Any], bool]) -> Seen | None:
        return next((item for item in self.seen if match(*item)), None)

    async def wait(self, match: Callable[[str, Any], bool], timeout: float) -> Seen | None:
        deadline = time.monotonic() + timeout
        while (found := self.find(match)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return None
        return found


def _room_of(data: Any) -> dict[str, Any]:
    return {k: data[k] for k in ("roomId", "channelId") if isinstance(data, dict) and k in data}


def _carries(data: Any, text: str) -> bool:
    """Whether a payload (or the payload inside ``{type, payload}``) carries the probe text."""
    if not isinstance(data, dict):
        return False
    inner = data.get("payload")
    return text in (data.get("text"), data.get("message"), data.get("content")) or (
        isinstance(inner, dict) and _carries(inner, text)
    )


async def socket_checks(
    url: str, dialect: Dialect, *, api_key: str | None, timeout: float, transports: list[str] | None = None
) -> list[Check]:
    entity, room = str(uuid.uuid4()), str(uuid.uuid4())
    recorder = _Recorder()
    sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, logger=False, engineio_logger=False)
    refusal: list[Any] = []
    sio.on("connect_error", lambda data=None: refusal.append(data))
    sio.on("*", lambda event, *args: recorder.add(event, args[0] if args else None))
    try:
        await sio.connect(
            url,
            auth=handshake_auth(dialect, entity, api_key),
            headers=handshake_headers(api_key),
            transports=transports,
            wait_timeout=timeout,
        )
    except (socketio.exceptions.ConnectionError, ValueError) as exc:
        reason = refusal[-1] if refusal else str(exc)
        reason = reason.get("message", reason) if isinstance(reason, dict) else reason
        fix = "Check the URL and the transports above."
        if "key" in str(reason).lower():
            fix = "This server wants an API key: pass --api-key (the server's SERVER_API_KEY)."
        elif dialect == "seed":
            fix = "A server that needs a handshake entityId (ElizaOS 1.7) refuses the seed dialect: --dialect eliza17."
        first = failed(ESTABLISHED, f"could not connect: {reason}", fix)
        return [first, *(skipped(name, "no connection") for name in SOCKET_CHECKS[1:])]
    results: list[Check] = []
    try:
        results.append(await _established(recorder, timeout))
        results.append(await _join(sio, recorder, dialect, entity, room, timeout))
        results += await _send(sio, recorder, dialect, entity, room, timeout)
    except socketio.exceptions.SocketIOError as exc:  # the connection dropped mid-way
        lost = failed(SOCKET_CHECKS[len(results)], f"the connection dropped: {exc}", "Read the server's log.")
        results += [lost, *(skipped(name, "no connection") for name in SOCKET_CHECKS[len(results) + 1 :])]
    finally:
        await hang_up(sio)
    return results


async def _established(recorder: _Recorder, timeout: float) -> Check:
    found = await recorder.wait(lambda event, _: event == ESTABLISHED, timeout)
    if found is None:
        return failed(
            ESTABLISHED,
            f"connected, but no connection_established within {timeout:g}s",
            "The server should emit 'connection_established' {message, socketId} on connect, as ElizaOS does;"
            " clients that wait for it before joining never join.",
        )
    data = found[1] if isinstance(found[1], dict) else {}
    return passed(ESTABLISHED, f"received (socketId {data.get('socketId', '?')})")


async def _join(
    sio: socketio.AsyncClient, recorder: _Recorder, dialect: Dialect, entity: str, room: str, timeout: float
) -> Check:
    await sio.emit("message", join_envelope(dialect, room, entity), callback=lambda *a: recorder.add("<join ack>", a))

    def answer(event: str, data: Any) -> bool:
        if event == "<join ack>":
            return bool(data and data[0])  # an empty ack (a handler that returned nothing) confirms nothing
        return event in ("channel_joined", "room_joined", "messageError")

    found = await recorder.wait(answer, timeout)
    fix = (
        "The server must handle socket.emit('message', {type: 1, payload: {roomId}}): socket.join(roomId), then"
        " confirm with 'channel_joined' / 'room_joined' {roomId, channelId} (or the emit's ack callback)."
    )
    if found is None:
        return failed(JOIN, f"no channel_joined, room_joined or ack within {timeout:g}s", fix)
    event, data = found
    if event == "messageError":
        return failed(JOIN, f"the server refused the join: {_error_of(data)}", fix)
    if event == "<join ack>":
        ack = data[0] if data else None
        if isinstance(ack, dict) and ack.get("success") is False:
            return failed(JOIN, f"the join was refused: {_error_of(ack)}", fix)
        return passed(JOIN, "acknowledged by the emit's callback")
    ids = _room_of(data)
    if any(value != room for value in ids.values()):
        return failed(JOIN, f"{event} names another room: {ids} (joined {room})", fix)
    return passed(JOIN, f"{event} for the room")


def _error_of(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)
    return str(data)


async def _send(
    sio: socketio.AsyncClient, recorder: _Recorder, dialect: Dialect, entity: str, room: str, timeout: float
) -> list[Check]:
    client_id = str(uuid.uuid4())
    text = f"eliza-messaging doctor probe {client_id}"
    envelope = send_envelope(
        dialect, room, sender_id=entity, sender_name="doctor", text=text, client_message_id=client_id, source="doctor"
    )
    await sio.emit("message", envelope, callback=lambda *a: recorder.add("<send ack>", a))
    broadcast, ack = await asyncio.gather(
        _broadcast(recorder, dialect, room, text, timeout), _ack(recorder, client_id, timeout)
    )
    return [broadcast, ack]


async def _broadcast(recorder: _Recorder, dialect: Dialect, room: str, text: str, timeout: float) -> Check:
    found = await recorder.wait(lambda event, data: event == "messageBroadcast" and _carries(data, text), timeout)
    if found is None:
        other = recorder.find(lambda event, data: _carries(data, text) and event != "messageBroadcast")
        if other is not None:
            return failed(
                BROADCAST,
                f"the message came back as '{other[0]}', not 'messageBroadcast'",
                "Emit 'messageBroadcast' to the room (io.to(roomId).emit('messageBroadcast', {...})): clients written"
                " from the ElizaOS guide listen for 'messageBroadcast', not 'message'.",
            )
        error = recorder.find(lambda event, _: event == "messageError")
        if error is not None:
            return failed(
                BROADCAST,
                f"the server rejected the probe message: {_error_of(error[1])}",
                "Send the fields the error names.",
            )
        return failed(
            BROADCAST,
            f"nothing came back within {timeout:g}s",
            "Broadcast each stored message to its room: io.to(roomId).emit('messageBroadcast', {...}); a socket"
            " hears a room only after joining it (ROOM_JOINING, type 1).",
        )
    ids = _room_of(found[1])
    wanted_key = "channelId" if dialect == "eliza17" else None
    fix = (
        "Broadcast with the room id the client sent, unchanged, as both roomId and channelId: clients drop"
        " broadcasts whose id differs by even one character."
    )
    if not ids:
        return failed(BROADCAST, "messageBroadcast carries neither roomId nor channelId", fix)
    wrong = {k: v for k, v in ids.items() if v != room}
    if wrong:
        shown = ", ".join(f"{k} {v}" for k, v in wrong.items())
        return failed(BROADCAST, f"messageBroadcast names {shown}, but the message was sent to room {room}", fix)
    if wanted_key and wanted_key not in ids:
        return failed(BROADCAST, "messageBroadcast has no channelId (eliza17 clients filter on it)", fix)
    return passed(BROADCAST, f"messageBroadcast with {' = '.join(ids)} = the room")


async def _ack(recorder: _Recorder, client_id: str, timeout: float) -> Check:
    def callback(event: str, data: Any) -> bool:
        return event == "<send ack>" and bool(data and data[0])  # an empty ack says nothing was stored

    def event_ack(event: str, data: Any) -> bool:
        return event == "messageAck" and isinstance(data, dict) and data.get("clientMessageId") == client_id

    found = await recorder.wait(lambda event, data: callback(event, data) or event_ack(event, data), timeout)
    fix = (
        "Once the message is stored, call the emit's ack callback with {messageId, ...} and/or emit 'messageAck'"
        " {clientMessageId, messageId} to the sender, so clients know nothing was lost."
    )
    if found is None:
        if recorder.find(lambda event, _: event == "<send ack>"):
            return failed(ACK, "the ack callback came back empty (no messageId) and no messageAck came", fix)
        return failed(ACK, f"neither an ack callback nor messageAck within {timeout:g}s", fix)
    by_callback = await recorder.wait(callback, 0.3)  # report both ways when both come
    by_event = recorder.find(event_ack)
    ack = by_callback[1][0] if by_callback else None
    if isinstance(ack, dict) and ack.get("success") is False:
        return failed(ACK, f"the ack reports a failure: {_error_of(ack)}", fix)
    ways = [way for way, seen in (("ack callback", by_callback), ("messageAck", by_event)) if seen is not None]
    message_id = (ack if isinstance(ack, dict) else by_event[1] if by_event else {}).get("messageId")
    return passed(ACK, f"{' and '.join(ways)} (messageId {message_id})")


async def agent_check(url: str, dialect: Dialect, agent_name: str, *, api_key: str | None, timeout: float) -> Check:
    """An agent answers a DM: the whole path from a person's message to a stored, streamed reply."""
    name = f"agent {agent_name} answers"
    client = ElizaClient(url, dialect=dialect, api_key=api_key, name="doctor", source="doctor", reconnect=False)
    try:
        agent = await client.find_agent(agent_name)
    except RequestError as exc:
        fix = "Check the name against GET /api/agents (names are matched case-insensitively)."
        if exc.status == 404:
            fix = "This server has no GET /api/agents; agents run inside an ElizaOS or eliza-messaging server."
        await client.close()
        return failed(name, exc.message, fix)
    try:
        await client.connect()
        channel = await client.join_dm(agent.id)
        start = time.perf_counter()
        sent = await client.send(channel, "Hello, are you there?")
        stream = client.stream_reply(sent.id, timeout=timeout)
        reply = await stream.result()
    except ReplyTimeout:
        return failed(
            name,
            f"no answer from {agent.name} within {timeout:g}s",
            "Check that the agent runs and is on this message server. A DM must be created with metadata"
            " {isDm: true, targetUserId: agentId}: without it, it is a group room where agents may stay silent.",
        )
    except ReplyError as exc:
        return failed(
            name, f"{agent.name} failed: {exc.message}", "Read the server's log; check the agent's model settings."
        )
    except ElizaClientError as exc:
        return failed(name, exc.message, "Fix the checks above first.")
    finally:
        await client.close()
    if reply is None:
        return failed(
            name,
            f"{agent.name} chose not to answer in a DM",
            "Agents always answer in DM channels; check that the channel was created as a DM.",
        )
    took = time.perf_counter() - start
    streamed = f"{len(stream.chunks)} streamed chunks" if stream.chunks else "not streamed"
    preview = " ".join(reply.text.split())
    preview = preview if len(preview) <= 60 else preview[:59] + "…"
    return passed(name, f"{agent.name} answered in {took:.1f}s ({streamed}): “{preview}”")
