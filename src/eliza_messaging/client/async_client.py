"""``ElizaClient``: an asyncio Socket.IO client for ElizaOS-style messaging servers.

It connects in either dialect, joins channels, sends with an acknowledgement, and hands
incoming messages to iterators and callbacks exactly once. After the connection drops and
comes back it rejoins each channel with the last offset it saw (``lastSeq``): the server sends
what it missed first; when there was more than the server replays, the rest comes over REST
(``GET /api/messaging/channels/:id/messages?afterSeq=<seq>``); all of it is delivered, in offset
order, before anything new, so the caller sees neither a gap nor a duplicate. Only a server that
gives no offsets (ElizaOS) is caught up by creation time (``?after=<ms>``).
"""

# Per-call timeouts are part of the API: they turn into typed errors that say what to do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from functools import partial
from typing import Any
from weakref import WeakSet

import socketio

from ..protocol.types import DEFAULT_SERVER_ID, Event, SocketMessageType
from ..types import JsonObject, is_uuid
from . import dialects
from .callbacks import Callback, Callbacks
from .dialects import Dialect
from .errors import (
    ConnectError,
    ElizaClientError,
    JoinError,
    JoinTimeout,
    NotConnected,
    SendError,
    SendTimeout,
)
from .hangup import hang_up
from .models import Agent, Message, TypingEvent, chunk_from_payload, epoch_ms, now_ms
from .rest import RestClient
from .state import ChannelState, Pending, PendingRequests, SeenIds
from .streams import MessageSubscription, ReplyStream, StreamEvent, StreamKind

log = logging.getLogger(__name__)

_STREAM_LOG = 2000


def _channel_of(data: JsonObject) -> str | None:
    value = data.get("channelId") or data.get("roomId")
    return value if isinstance(value, str) else None


class ElizaClient:
    """An async client for one server and one identity.

    ``dialect="eliza17"`` (default) speaks like ElizaOS 1.7's own clients (handshake
    ``auth: {entityId, apiKey?}``, ``channelId`` + ``messageServerId``); ``dialect="seed"``
    speaks like the ElizaOS Socket.IO guide (no handshake auth, ``roomId``). ``token``: a signed JWT
    (the server's ``ELIZA_JWT_SECRET`` or ``ELIZA_JWKS_URL``) whose ``sub`` is the entity id; it goes in
    the handshake and as ``Authorization: Bearer`` on REST, and ``entity_id`` defaults to its ``sub``.

    Use it as ``async with ElizaClient(url) as client:``, or call :meth:`connect` and
    :meth:`close` yourself.
    """

    def __init__(
        self,
        url: str = "http://localhost:3000",
        *,
        entity_id: str | None = None,
        name: str = "Python SDK",
        api_key: str | None = None,
        token: str | None = None,
        dialect: Dialect = "eliza17",
        server_id: str = DEFAULT_SERVER_ID,
        source: str = "python-sdk",
        transports: list[str] | None = None,
        timeout: float = 10.0,
        reconnect: bool = True,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
    ) -> None:
        if token is not None and entity_id is None:
            entity_id = dialects.token_subject(token)  # who the server will take this client to be
        if entity_id is not None and not is_uuid(entity_id):
            raise ValueError(f"entity_id must be a UUID, not {entity_id!r}; leave it out to get a random one.")
        self.url = url.rstrip("/")
        self.entity_id = entity_id or str(uuid.uuid4())
        self.name = name
        self.api_key = api_key
        self.token = token
        self.dialect = dialects.check_dialect(dialect)
        self.server_id = server_id
        self.source = source
        self.transports = transports
        self.timeout = timeout
        self.reconnect = reconnect
        self.reconnection_delay = reconnection_delay
        self.reconnection_delay_max = reconnection_delay_max
        self.rest = RestClient(self.url, api_key=api_key, token=token, timeout=timeout)
        self.socket_id: str | None = None
        self._sio: socketio.AsyncClient | None = None
        self._connected = False
        self._ever_connected = False
        self._closed = False
        self._refusal: Any = None
        self._channels: dict[str, ChannelState] = {}
        self._seen = SeenIds()
        self._pending = PendingRequests()
        self._subscriptions: WeakSet[MessageSubscription] = WeakSet()
        self._streams: WeakSet[ReplyStream] = WeakSet()
        self._stream_log: deque[StreamEvent] = deque(maxlen=_STREAM_LOG)
        self._seq = 0
        self._sent: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._callbacks = Callbacks()
        self._resume_task: asyncio.Task[None] | None = None

    # connection -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> ElizaClient:
        """Open the connection; :class:`ConnectError` says why when it cannot."""
        if self._closed:
            raise ConnectError("This client was closed; create a new ElizaClient to connect again.")
        if self._connected:
            return self
        sio = socketio.AsyncClient(
            reconnection=self.reconnect,
            reconnection_delay=self.reconnection_delay,
            reconnection_delay_max=self.reconnection_delay_max,
            handle_sigint=False,
            logger=False,
            engineio_logger=False,
        )
        sio.on("connect", self._on_connect)
        sio.on("disconnect", self._on_disconnect)
        sio.on("connect_error", self._on_connect_error)
        sio.on("*", self._on_event)
        self._sio = sio
        self._refusal = None
        try:
            await sio.connect(
                self.url,
                auth=dialects.handshake_auth(self.dialect, self.entity_id, self.api_key, self.token),
                headers=dialects.handshake_headers(self.api_key, self.token),
                transports=self.transports,
                wait_timeout=self.timeout,
            )
        except (socketio.exceptions.ConnectionError, ValueError) as exc:
            self._sio = None
            raise ConnectError(self._explain_refusal(exc)) from exc
        self.socket_id = sio.get_sid()
        return self

    def _explain_refusal(self, exc: Exception) -> str:
        refusal = self._refusal  # a server's refusal is {message}; a transport failure is plain text
        if isinstance(refusal, dict) and refusal.get("message"):
            return f"{self.url} refused the connection: {refusal['message']}"
        return (
            f"Cannot connect to {self.url} ({refusal or exc or type(exc).__name__}). Check the URL and that the"
            " server is running (eliza-messaging serve, or your ElizaOS server); behind a proxy that drops"
            " WebSockets, pass transports=['polling']."
        )

    async def close(self) -> None:
        """Disconnect, end every iterator, and release the HTTP client."""
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.end()
        for stream in list(self._streams):
            stream.abort()
        if self._resume_task is not None:
            self._resume_task.cancel()
        if self._sio is not None:
            await hang_up(self._sio)
            self._sio = None
        self._connected = False
        self._pending.fail_all("The client was closed before the server answered.")
        self._callbacks.cancel_all()
        await self.rest.close()

    async def __aenter__(self) -> ElizaClient:
        return await self.connect()

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _require_socket(self) -> socketio.AsyncClient:
        if self._sio is None or not self._connected:
            if self._ever_connected and not self._closed:
                raise NotConnected(
                    "The connection dropped and the client is reconnecting; try again in a moment"
                    " (on_event('resumed', ...) tells when it is back)."
                )
            raise NotConnected("Not connected: call `await client.connect()` (or use `async with ElizaClient(...)`).")
        return self._sio

    async def _emit(self, event: str, data: JsonObject, callback: Callback | None = None) -> None:
        sio = self._require_socket()
        try:
            await sio.emit(event, data, callback=callback)
        except socketio.exceptions.SocketIOError as exc:
            raise NotConnected(f"Could not send '{event}': {exc}. Reconnect and try again.") from exc

    # joining ----------------------------------------------------------------------------

    async def join(
        self,
        channel_id: str,
        *,
        metadata: JsonObject | None = None,
        agent_id: str | None = None,
        confirm: bool = True,
        timeout: float | None = None,
    ) -> None:
        """Join a channel to receive its messages; it is rejoined after every reconnect.

        With ``confirm`` the call returns once the server confirmed (ack callback,
        ``channel_joined`` or ``room_joined``); :class:`JoinError` when it refused.
        """
        channel = self._channels.get(channel_id) or ChannelState(channel_id, last_seen_ms=now_ms())
        channel.metadata = metadata or channel.metadata
        channel.agent_id = agent_id or channel.agent_id
        self._channels[channel_id] = channel
        channel.joined = True
        try:
            await self._join_on_wire(channel, confirm=confirm, timeout=timeout)
        except BaseException:
            channel.joined = False
            raise
        if channel.last_seq is None:  # where this client starts: what a rejoin will resume from
            try:
                newest = await self.rest.newest_seq(channel_id)
            except ElizaClientError as exc:
                log.warning("reading the offset of %s failed: %s", channel_id, exc)
                newest = None
            if newest is not None:
                channel.start_at(newest)

    async def join_dm(self, other_id: str, *, timeout: float | None = None) -> str:
        """Join the direct-message channel with ``other_id`` (an agent or a user) and return its id.

        The channel id is a uuid5 of the two ids, so both sides (and later sessions) find the
        same channel; its metadata ``{isDm: true, targetUserId}`` makes the server create it
        as a DM, where an agent always answers. Sends to it carry the same metadata.
        """
        channel_id = dialects.dm_channel_id(self.entity_id, other_id)
        metadata = dialects.dm_metadata(other_id)
        channel = self._channels.get(channel_id) or ChannelState(channel_id, last_seen_ms=now_ms())
        channel.send_metadata = metadata
        channel.target_user_id = other_id
        self._channels[channel_id] = channel
        await self.join(channel_id, metadata=metadata, timeout=timeout)
        return channel_id

    async def _join_on_wire(
        self,
        channel: ChannelState,
        *,
        confirm: bool = True,
        timeout: float | None = None,
        last_seq: int | None = None,
    ) -> JsonObject:
        """Join (``last_seq``: rejoin after that offset); the server's confirmation ({} unconfirmed)."""
        envelope = dialects.join_envelope(
            self.dialect,
            channel.id,
            self.entity_id,
            server_id=self.server_id,
            metadata=channel.metadata,
            agent_id=channel.agent_id,
            last_seq=last_seq,
        )
        if not confirm:
            await self._emit(Event.MESSAGE, envelope)
            return {}
        pending = self._pending.open("join", str(uuid.uuid4()), channel.id)
        try:
            await self._emit(Event.MESSAGE, envelope, callback=partial(self._on_join_ack, pending))
            wait = timeout or self.timeout
            try:
                return await asyncio.wait_for(asyncio.shield(pending.future), wait)
            except TimeoutError:
                raise JoinTimeout(
                    f"The server did not confirm joining channel {channel.id} within {wait:g}s (no ack,"
                    f" channel_joined or room_joined). Check that the id is a UUID and that the server speaks"
                    f" the '{self.dialect}' dialect; for a server that never confirms, join with confirm=False."
                ) from None
        finally:
            self._pending.close(pending)

    def _on_join_ack(self, pending: Pending, *args: Any) -> None:
        data = args[0] if args else None
        if isinstance(data, dict) and data.get("success") is False:
            pending.reject(JoinError(f"The server refused the join: {data.get('error') or data}"))
        elif data:  # an empty ack (a handler that returned nothing) confirms nothing
            pending.resolve(data if isinstance(data, dict) else {"ack": data})

    # sending ----------------------------------------------------------------------------

    async def send(
        self,
        channel_id: str,
        text: str,
        *,
        metadata: JsonObject | None = None,
        attachments: list[Any] | None = None,
        client_message_id: str | None = None,
        target_user_id: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Send ``text`` and return it as stored (server id and time from the acknowledgement).

        Raises :class:`SendError` with the server's sentence when it rejects the message,
        :class:`SendTimeout` when no acknowledgement comes, and :class:`ConnectionLost`
        when the connection drops first; retry those two with the same ``client_message_id``.
        """
        channel = self._channels.get(channel_id)
        merged = {**(channel.send_metadata if channel else {}), **(metadata or {})}
        target = target_user_id or (channel.target_user_id if channel else None)
        client_id = client_message_id or str(uuid.uuid4())
        envelope = dialects.send_envelope(
            self.dialect,
            channel_id,
            sender_id=self.entity_id,
            sender_name=self.name,
            text=text,
            client_message_id=client_id,
            server_id=self.server_id,
            source=self.source,
            attachments=attachments,
            metadata=merged,
            target_user_id=target,
        )
        seq_at_send = self._seq
        pending = self._pending.open("send", client_id, channel_id)
        try:
            await self._emit(Event.MESSAGE, envelope, callback=partial(self._on_send_ack, pending))
            wait = timeout or self.timeout
            try:
                ack = await asyncio.wait_for(asyncio.shield(pending.future), wait)
            except TimeoutError:
                raise SendTimeout(
                    f"No acknowledgement for message {client_id} within {wait:g}s; it may still have been stored."
                    f" Retry with client_message_id='{client_id}' (this server stores a repeated id once).",
                    client_message_id=client_id,
                ) from None
        finally:
            self._pending.close(pending)
        message = Message(
            id=str(ack.get("messageId") or ack.get("id") or client_id),
            channel_id=channel_id,
            sender_id=self.entity_id,
            sender_name=self.name,
            text=text,
            created_at=epoch_ms(ack.get("createdAt")),
            server_id=self.server_id,
            source=self.source,
            client_message_id=client_id,
            attachments=list(attachments or []),
            metadata=merged,
            raw=ack,
        )
        self._sent[message.id] = (seq_at_send, channel_id)
        if len(self._sent) > 1000:
            self._sent.popitem(last=False)
        if channel is not None:
            channel.last_seen_ms = max(channel.last_seen_ms, message.created_at)
        return message

    def _on_send_ack(self, pending: Pending, *args: Any) -> None:
        data = args[0] if args else None
        if not isinstance(data, dict):
            return  # an empty ack says nothing; wait for messageAck or time out
        if data.get("success") is False or (data.get("error") and not data.get("messageId")):
            pending.reject(self._send_error(data, pending.key))
        elif data.get("messageId") or data.get("id"):
            pending.resolve(data)

    @staticmethod
    def _send_error(data: JsonObject, client_id: str | None) -> SendError:
        error = data.get("error")
        text = error if isinstance(error, str) else (error or {}).get("message") if isinstance(error, dict) else None
        return SendError(
            f"The server rejected the message: {text or data}",
            code=data.get("code") if isinstance(data.get("code"), str) else None,
            field=data.get("field") if isinstance(data.get("field"), str) else None,
            client_message_id=client_id,
            details=data,
        )

    async def ask(self, channel_id: str, text: str, *, timeout: float = 60.0, **send_options: Any) -> Message | None:
        """Send ``text`` and return the agent's whole reply (``None`` if it chose not to answer)."""
        sent = await self.send(channel_id, text, **send_options)
        return await self.stream_reply(sent.id, channel_id=channel_id, timeout=timeout).result()

    async def typing(self, channel_id: str, is_typing: bool = True) -> None:
        """Tell the others in the channel that this client is (or stopped) typing."""
        await self._emit(Event.TYPING, dialects.typing_payload(self.dialect, channel_id, self.entity_id, is_typing))

    # reading ----------------------------------------------------------------------------

    def messages(self, channel_id: str | None = None, *, include_own: bool = False) -> MessageSubscription:
        """Incoming messages (of one channel, or all), each once, including those caught up after a reconnect.

        Messages this client sent are left out unless ``include_own``.
        """
        subscription = MessageSubscription(
            channel_id, own_id=self.entity_id, include_own=include_own, on_close=self._subscriptions.discard
        )
        if self._closed:
            subscription.end()
        else:
            self._subscriptions.add(subscription)
        return subscription

    def stream_reply(self, message_id: str, *, channel_id: str | None = None, timeout: float = 60.0) -> ReplyStream:
        """An agent's reply to ``message_id`` (as ``send()`` returned it), chunk by chunk.

        Events that arrived before this call (a fast agent can start before ``send()``
        returns) are replayed, so call it right after ``send()`` without losing chunks.
        """
        sent = self._sent.get(message_id)
        stream = ReplyStream(
            message_id,
            channel_id=channel_id or (sent[1] if sent else None),
            own_id=self.entity_id,
            after_seq=sent[0] if sent else self._seq,
            timeout=timeout,
            is_finished=self._seen.__contains__,
            on_close=self._streams.discard,
        )
        for event in list(self._stream_log):
            stream.offer(event)
        if self._closed:
            stream.abort()
        else:
            self._streams.add(stream)
        return stream

    async def history(
        self, channel_id: str, *, limit: int = 50, before: int | None = None, after: int | None = None
    ) -> list[Message]:
        """A channel's stored messages over REST, oldest first.

        They count as seen: :meth:`messages` will not deliver them again.
        """
        page = await self.rest.messages(channel_id, limit=limit, before=before, after=after)
        ordered = sorted(page, key=lambda m: (m.created_at, m.id))
        channel = self._channels.get(channel_id)
        for message in ordered:
            self._seen.add(message.id)
            if channel is not None:
                channel.last_seen_ms = max(channel.last_seen_ms, message.created_at)
        return ordered

    async def agents(self) -> list[Agent]:
        """The agents the server lists at ``GET /api/agents``."""
        return await self.rest.agents()

    async def find_agent(self, name_or_id: str) -> Agent:
        """The agent with this name (case-insensitive) or id; :class:`AgentNotFound` otherwise."""
        return await self.rest.find_agent(name_or_id)

    # callbacks --------------------------------------------------------------------------

    def on_message(
        self, callback: Callback, *, channel_id: str | None = None, include_own: bool = False
    ) -> Callable[[], None]:
        """Call ``callback(message)`` (plain or async) for each new message; returns an unsubscribe function."""

        def wanted(message: Message) -> bool:
            return (channel_id is None or message.channel_id == channel_id) and (
                include_own or message.sender_id != self.entity_id
            )

        return self._callbacks.add("message", callback, wanted)

    def on_reply_chunk(self, callback: Callback, *, channel_id: str | None = None) -> Callable[[], None]:
        """Call ``callback(chunk)`` for every streamed reply chunk (any agent, any joined channel)."""
        return self._callbacks.add("chunk", callback, lambda c: channel_id is None or c.channel_id == channel_id)

    def on_typing(self, callback: Callback, *, channel_id: str | None = None) -> Callable[[], None]:
        """Call ``callback(TypingEvent)`` when someone else in a channel types."""
        return self._callbacks.add("typing", callback, lambda t: channel_id is None or t.channel_id == channel_id)

    def on_event(self, event: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(payload)`` for a raw server event (``controlMessage``, ``userJoined``, ...).

        The client adds three of its own: ``connect``, ``disconnect`` and ``resumed``
        (``{channels, missed}`` once it has rejoined and caught up after a reconnect).
        """
        return self._callbacks.add(f"event:{event}", callback, lambda _: True)

    # incoming events (plain functions, so each runs to the end in arrival order) ----------

    def _on_connect(self) -> None:
        self._connected = True
        if self._sio is not None:
            self.socket_id = self._sio.get_sid()
        reconnected = self._ever_connected
        self._ever_connected = True
        self._callbacks.fire("event:connect", {"reconnected": reconnected})
        if reconnected and not self._closed:
            if self._resume_task is not None:
                self._resume_task.cancel()
            self._resume_task = self._callbacks.spawn(self._resume())

    def _on_disconnect(self, reason: Any = None) -> None:
        self._connected = False
        self._pending.fail_all(f"The connection dropped ({reason or 'no reason given'}) before the server answered.")
        if not self._closed:
            self._callbacks.fire("event:disconnect", {"reason": str(reason) if reason is not None else None})

    def _on_connect_error(self, data: Any = None) -> None:
        self._refusal = data

    def _on_event(self, event: str, *args: Any) -> None:
        data = args[0] if args else None
        payload: JsonObject = data if isinstance(data, dict) else {}
        if event == Event.MESSAGE_BROADCAST:
            self._on_broadcast(payload)
        elif event == Event.MESSAGE_ACK:
            self._on_ack_event(payload)
        elif event == Event.MESSAGE_ERROR:
            self._on_error_event(payload)
        elif event in (Event.CHANNEL_JOINED, Event.ROOM_JOINED):
            self._on_joined(payload)
        elif event == Event.MESSAGE_STREAM_CHUNK:
            self._record("chunk", payload)
            self._callbacks.fire("chunk", chunk_from_payload(payload))
        elif event == Event.MESSAGE_STREAM_ERROR:
            self._record("error", payload)
        elif event == Event.MESSAGE_COMPLETE:
            self._record("complete", payload)
        elif event == Event.MESSAGE and payload.get("type") == SocketMessageType.THINKING:
            inner = payload.get("payload")
            self._record("thinking", inner if isinstance(inner, dict) else {})
        elif event == Event.USER_TYPING:
            self._callbacks.fire(
                "typing",
                TypingEvent(str(payload.get("userId")), _channel_of(payload) or "", bool(payload.get("isTyping"))),
            )
        self._callbacks.fire(f"event:{event}", data)

    def _on_broadcast(self, data: JsonObject) -> None:
        message = Message.from_broadcast(data)
        if not message.id or not message.channel_id:
            return
        channel = self._channels.get(message.channel_id)
        if channel is not None and channel.catching_up:
            channel.held.append(message)
            return
        self._deliver(message)

    def _deliver(self, message: Message) -> bool:
        """Hand a message to everyone listening, unless it was delivered before."""
        if message.id in self._seen:
            return False
        self._seen.add(message.id)
        channel = self._channels.get(message.channel_id)
        if channel is not None:
            channel.last_seen_ms = max(channel.last_seen_ms, message.created_at)
            if message.seq is not None:
                channel.saw_seq(message.seq)
        self._record("reply", message.raw, message)
        for subscription in list(self._subscriptions):
            subscription.offer(message)
        self._callbacks.fire("message", message)
        return True

    def _record(self, kind: StreamKind, data: JsonObject, message: Message | None = None) -> None:
        self._seq += 1
        event = StreamEvent(self._seq, kind, data, message)
        self._stream_log.append(event)
        for stream in list(self._streams):
            stream.offer(event)

    def _on_ack_event(self, data: JsonObject) -> None:
        pending = self._pending.get(data.get("clientMessageId"))
        if pending is not None and pending.kind == "send":
            pending.resolve(data)

    def _on_error_event(self, data: JsonObject) -> None:
        pending = self._pending.get(data.get("clientMessageId"))
        if pending is None:  # ElizaOS says only {error}: blame the oldest request on that channel
            pending = self._pending.oldest(_channel_of(data))
        if pending is None:
            return
        if pending.kind == "join":
            pending.reject(JoinError(f"The server refused the join: {data.get('error') or data}"))
        else:
            pending.reject(self._send_error(data, pending.key))

    def _on_joined(self, data: JsonObject) -> None:
        for pending in self._pending.joins(_channel_of(data)):
            pending.resolve(data)

    # after a reconnect ------------------------------------------------------------------

    async def _resume(self) -> None:
        """Rejoin every channel from its last offset, then deliver what was missed before anything newer."""
        channels = [c for c in self._channels.values() if c.joined]
        for channel in channels:
            channel.catching_up = True
        missed = 0
        try:
            for channel in channels:
                try:
                    found = await self._catch_up(channel)
                except ElizaClientError as exc:
                    log.warning("catching up %s failed: %s", channel.id, exc)
                    found = []
                missed += self._release(channel, found)
        finally:
            for channel in channels:
                self._release(channel, [])
        self._callbacks.fire("event:resumed", {"channels": [c.id for c in channels], "missed": missed})

    async def _catch_up(self, channel: ChannelState) -> list[Message]:
        """Rejoin ``channel``; what it missed that the server did not replay on the socket (REST)."""
        since = channel.last_seq
        try:
            summary = await self._join_on_wire(channel, last_seq=since)
        except ElizaClientError as exc:
            log.warning("rejoining %s failed: %s", channel.id, exc)
            summary = {}
        if since is not None and "missed" in summary:  # the server replays by offset
            if not summary.get("truncated"):
                return []  # it replayed all of it on the socket: it is in channel.held
            # Truncated: REST for what lies below the replayed ones.
            replayed = [m.seq for m in channel.held if m.seq is not None and m.seq > since]
            return await self.rest.messages_after_seq(channel.id, since, before_seq=min(replayed, default=None))
        # A server without offsets (it ignored lastSeq): by creation time, one millisecond back (repeats
        # are dropped by id).
        return await self.rest.messages_after(channel.id, max(0, channel.last_seen_ms - 1))

    def _release(self, channel: ChannelState, found: list[Message]) -> int:
        """Deliver caught-up and held messages in offset order (time order where the server gives no
        offsets), then go back to live delivery."""
        held, channel.held = channel.held, []
        channel.catching_up = False
        unique = {m.id: m for m in [*found, *held]}
        ordered = sorted(unique.values(), key=lambda m: (m.seq is None, m.seq or 0, m.created_at, m.id))
        return sum(self._deliver(m) for m in ordered)
