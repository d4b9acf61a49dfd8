"""One hierarchy of errors, each carrying the sentence a user sees and a stable code."""

from __future__ import annotations


class MessagingError(Exception):
    """Base class: ``message`` says what went wrong and how to fix it; ``field`` names the (first) field at
    fault, ``fields`` all of them when a payload has several wrong (told at once, not one per try)."""

    code = "MESSAGING_ERROR"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.fields = fields if fields is not None else ([field] if field else [])


class InvalidPayload(MessagingError):
    code = "INVALID_PAYLOAD"


class InvalidId(InvalidPayload):
    """An id in a path that is not a UUID (ElizaOS's code for it)."""

    code = "INVALID_ID"


class UnknownMessageType(InvalidPayload):
    code = "UNKNOWN_MESSAGE_TYPE"


class PayloadTooLarge(InvalidPayload):
    code = "MESSAGE_TOO_LARGE"
    status = 413


class NotFound(MessagingError):
    code = "NOT_FOUND"
    status = 404


class Unauthorized(MessagingError):
    code = "UNAUTHORIZED"
    status = 401


class IdentityMismatch(MessagingError):
    """A caller named someone else as sender, user or entity; nothing was stored or broadcast."""

    code = "IDENTITY_MISMATCH"
    status = 403


class Forbidden(MessagingError):
    """Data isolation: the caller is not a participant of the channel it asked for."""

    code = "FORBIDDEN"
    status = 403


class StorageUnavailable(MessagingError):
    """The message could not be stored; it was neither broadcast nor acknowledged."""

    code = "STORAGE_ERROR"
    status = 503


class DeliveryFailed(MessagingError):
    """The message is stored but could not be delivered yet; a retry with the same id delivers it."""

    code = "DELIVERY_FAILED"
    status = 503


class ShuttingDown(MessagingError):
    """The server is stopping and refused a new event; the client sends it again after reconnecting."""

    code = "SERVER_SHUTTING_DOWN"
    status = 503


class Conflict(MessagingError):
    code = "CONFLICT"
    status = 409


class AgentUnavailable(MessagingError):
    """An agent was asked to answer over HTTP and failed; the user's message is stored all the same."""

    code = "AGENT_ERROR"
    status = 502


class ReplyTimeout(MessagingError):
    """No agent answered in time; the reply may still arrive over Socket.IO."""

    code = "AGENT_TIMEOUT"
    status = 504


# Sessions API: ElizaOS's own codes and statuses (its SessionErrors), with its body {error: {code, message}}.


class SessionError(MessagingError):
    code = "SESSION_ERROR"
    status = 500


class SessionValidationError(SessionError):
    code = "VALIDATION_ERROR"
    status = 400


class SessionNotFound(SessionError):
    code = "SESSION_NOT_FOUND"
    status = 404


class SessionExpired(SessionError):
    code = "SESSION_EXPIRED"
    status = 410


class SessionAgentNotFound(SessionError):
    code = "AGENT_NOT_FOUND"
    status = 404


class SessionRenewalFailed(SessionError):
    code = "SESSION_RENEWAL_FAILED"
    status = 400


class RateLimited(MessagingError):
    """The sender is over its rate; nothing was stored, and the message says when to retry."""

    code = "RATE_LIMITED"
    status = 429

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class UploadTooLarge(MessagingError):
    """An upload past the size cap; what was received of it is deleted."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413


class UnsupportedMediaType(MessagingError):
    """An upload whose bytes are none of the allowed types; ``allowed`` lists them."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415

    def __init__(self, message: str, *, allowed: list[str]) -> None:
        super().__init__(message, field="file")
        self.allowed = allowed


class TooManyJobs(MessagingError):
    """A job refused because its user has too many in progress, or the server holds its maximum."""

    code = "TOO_MANY_JOBS"
    status = 429


class SemanticSearchOff(InvalidPayload):
    """Semantic search was asked of a server that has no embedder (or nowhere to keep vectors)."""

    code = "SEMANTIC_SEARCH_OFF"


class SearchUnavailable(MessagingError):
    """Semantic search was asked for and its embedder failed just now; keyword search still works."""

    code = "SEARCH_UNAVAILABLE"
    status = 503
