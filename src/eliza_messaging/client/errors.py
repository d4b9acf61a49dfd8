"""One hierarchy of client errors; each message says what went wrong and what to do about it.

Catch :class:`ElizaClientError` to handle everything the SDK raises, or a subclass to handle
one case (a refused connection, a rejected message, an agent that failed to answer).
"""

from __future__ import annotations

from typing import Any


class ElizaClientError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectError(ElizaClientError):
    """The Socket.IO connection could not be opened, or the server refused it."""


class NotConnected(ElizaClientError):
    """An operation needs a live connection; call ``await client.connect()`` first."""


class ConnectionLost(ElizaClientError):
    """The connection dropped while waiting for the server's answer.

    For a send, the message may or may not have been stored: send it again with the same
    ``client_message_id`` (this server stores a repeated client id once).
    """

    def __init__(self, message: str, *, client_message_id: str | None = None) -> None:
        super().__init__(message)
        self.client_message_id = client_message_id


class JoinError(ElizaClientError):
    """The server refused to join the channel (its reason is in the message)."""


class JoinTimeout(JoinError):
    """The server did not confirm the join in time."""


class SendError(ElizaClientError):
    """The server rejected a message (``messageError`` or a failed ack)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        client_message_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.client_message_id = client_message_id
        self.details = details or {}


class SendTimeout(SendError):
    """No acknowledgement arrived in time; the message may still have been stored."""


class ReplyError(ElizaClientError):
    """The agent's generation failed (``messageStreamError``); ``partial_text`` is what it had streamed."""

    def __init__(self, message: str, *, message_id: str | None = None, partial_text: str = "") -> None:
        super().__init__(message)
        self.message_id = message_id
        self.partial_text = partial_text


class ReplyTimeout(ReplyError):
    """No reply (or no end of the reply) arrived in time."""


class RequestError(ElizaClientError):
    """A REST request failed (network error, HTTP error, or ``{success: false}``)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AgentNotFound(RequestError):
    """No agent on the server has the name that was asked for."""
