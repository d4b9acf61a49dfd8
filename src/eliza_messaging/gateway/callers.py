"""Who a connection or request is, from its transport credentials: the :class:`Caller` the domain checks.

Credentials, each optional:
- ``SERVER_API_KEY``: guards sockets as in ElizaOS (``auth.apiKey``, ``auth.token``, ``?apiKey=``,
  ``?token=`` or the ``X-API-KEY`` header); it opens the door but says nothing of who you are.
- the server token (``ELIZA_SERVER_AUTH_TOKEN``: the ``X-API-KEY`` header, ``auth.serverToken`` or
  ``auth.apiKey`` on a socket): a trusted caller that may act for anyone, agents included.
- a signed token (``auth.token``, ``?token=`` for legacy clients, ``Authorization: Bearer``): its
  ``sub`` is the entity.
- ``auth.entityId`` / ``?entityId=``: who a socket says it is (not proven; enough unless
  ``ELIZA_REQUIRE_AUTH`` is on).
Every secret is compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from ..messaging.identity import SERVER, Caller, same_id
from ..types import is_uuid
from .tokens import TokenRefused, TokenVerifier

HANDSHAKE_BASIS = "the entity of your socket's handshake"
TOKEN_BASIS = "your token's subject"


class Refused(Exception):
    """No entry: ``reason`` is the sentence the client sees, naming what to send."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _matches(offered: Iterable[object], secret: str | None) -> bool:
    if not secret:
        return False
    wanted = secret.encode()
    found = False
    for value in offered:  # every candidate is compared, so the time taken says nothing of which matched
        if isinstance(value, str) and value:
            found = hmac.compare_digest(value.encode(), wanted) or found
    return found


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Authenticator:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        server_token: str | None = None,
        verifier: TokenVerifier | None = None,
        require_auth: bool = False,
    ) -> None:
        self.api_key = api_key
        self.server_token = server_token
        self.verifier = verifier
        self.require_auth = require_auth

    async def socket(self, auth: Mapping[str, Any], query: Mapping[str, str], headers: Mapping[str, str]) -> Caller:
        """The caller of a Socket.IO handshake, or :class:`Refused` with the reason."""
        entity_id = auth.get("entityId") or query.get("entityId")
        if entity_id is not None and not is_uuid(entity_id):
            raise Refused(
                f"auth.entityId must be a UUID, but got {entity_id!r}; connect with auth: {{entityId: '<uuid>'}}"
            )
        header_key = headers.get("x-api-key")
        if _matches([auth.get("serverToken"), auth.get("apiKey"), header_key], self.server_token):
            return Caller(entity_id, trusted=True, basis="the server token") if entity_id else SERVER
        secrets = [auth.get("apiKey"), auth.get("token"), query.get("apiKey"), query.get("token"), header_key]
        if self.api_key and not _matches(secrets, self.api_key):
            raise Refused(
                "This server needs an API key: connect with auth: {apiKey: '<SERVER_API_KEY>'}"
                " (or the x-api-key header)."
            )
        token = auth.get("token") or query.get("token") or bearer(headers.get("authorization"))
        if self.verifier is not None and isinstance(token, str) and token and not _matches([token], self.api_key):
            try:
                subject = await self.verifier.subject(token)
            except TokenRefused as exc:
                raise Refused(f"Token refused: {exc.reason}") from None
            if entity_id is not None and not same_id(entity_id, subject):
                raise Refused(
                    f"auth.entityId {entity_id} is not your token's subject {subject}; leave entityId out or send"
                    " the same id."
                )
            return Caller(subject, verified=True, basis=TOKEN_BASIS)
        if self.require_auth:
            raise Refused(
                "This server requires a signed token: connect with auth: {token: '<JWT whose sub is your entity id>'}"
                " (legacy clients: ?token=)."
            )
        return Caller(entity_id, basis=HANDSHAKE_BASIS) if entity_id else Caller()

    async def http(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a REST request: the server token, a verified bearer token, or anonymous."""
        if _matches([headers.get("x-api-key")], self.server_token):
            return SERVER
        token = bearer(headers.get("authorization"))
        if token is not None and self.verifier is not None:
            try:
                subject = await self.verifier.subject(token)
            except TokenRefused as exc:
                raise Refused(f"Token refused: {exc.reason}") from None
            return Caller(subject, verified=True, basis=TOKEN_BASIS)
        if self.server_token:
            raise Refused("Missing or invalid X-API-KEY header")
        if self.require_auth:
            raise Refused(
                "This server requires a signed token: send Authorization: Bearer <JWT whose sub is your entity id>"
                " (or the server token in X-API-KEY)."
            )
        return Caller()
