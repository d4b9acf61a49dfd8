"""One hierarchy of errors, each carrying the sentence a user sees and a stable code."""

from __future__ import annotations


class MessagingError(Exception):
    """Base class: ``message`` says what went wrong and how to fix it."""

    code = "MESSAGING_ERROR"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidPayload(MessagingError):
    code = "INVALID_PAYLOAD"


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


class StorageUnavailable(MessagingError):
    """The message could not be stored; it was neither broadcast nor acknowledged."""

    code = "STORAGE_ERROR"
    status = 503
