"""Signed tokens (JWT): a token's ``sub`` is the entity its holder speaks as.

``ELIZA_JWT_SECRET`` verifies HS256 tokens; ``ELIZA_JWKS_URL`` verifies RS256/ES256 tokens with
the keys published there, fetched without blocking the event loop and kept for a while (a token
signed with a key we have not seen refetches once, at most every few seconds, so a rotated key
is picked up). ``alg: none`` and any algorithm not listed are refused by PyJWT itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from ..types import is_uuid

log = logging.getLogger(__name__)

SECRET_ALGORITHMS = ["HS256"]
JWKS_ALGORITHMS = ["RS256", "ES256"]
# A token naming an unknown key refetches the key set, but not more often than this.
REFETCH_AFTER_S = 5.0
JWKS_FETCH_TIMEOUT_S = 5.0


class TokenRefused(Exception):
    """The token is not acceptable; ``reason`` says why and what to do, and never quotes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenSettings:
    secret: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    jwks_ttl_s: float = 300.0

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.jwks_url)


class _KeySet:
    """The JWKS document, cached for ``ttl_s``; refetched early when a token names an unknown key."""

    def __init__(self, url: str, ttl_s: float) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        keys = await self._current(force=False)
        found = self._find(keys, kid)
        if found is None and time.monotonic() - self._fetched_at >= REFETCH_AFTER_S:
            found = self._find(await self._current(force=True), kid)
        if found is None:
            raise TokenRefused(
                f"the token's key id {kid!r} is not among the keys published at ELIZA_JWKS_URL; sign it with a"
                " published key."
            )
        return found

    @staticmethod
    def _find(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return keys.keys[0] if len(keys.keys) == 1 else None
        return next((k for k in keys.keys if k.key_id == kid), None)

    async def _current(self, *, force: bool) -> jwt.PyJWKSet:
        async with self._lock:
            fresh = self._keys is not None and time.monotonic() - self._fetched_at < self._ttl_s
            if self._keys is not None and fresh and not force:
                return self._keys
            try:
                async with httpx.AsyncClient(timeout=JWKS_FETCH_TIMEOUT_S) as client:
                    response = await client.get(self._url)
                    response.raise_for_status()
                    document: Any = response.json()
                self._keys = jwt.PyJWKSet.from_dict(document)
                self._fetched_at = time.monotonic()
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                log.warning("jwks fetch failed", extra={"error": type(exc).__name__})
                if self._keys is None:
                    raise TokenRefused(
                        "the server could not fetch its signing keys (ELIZA_JWKS_URL); try again shortly."
                    ) from exc
            return self._keys


class TokenVerifier:
    """Verifies a token and answers its subject (an entity UUID), or raises :class:`TokenRefused`."""

    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        self._keys = _KeySet(settings.jwks_url, settings.jwks_ttl_s) if settings.jwks_url else None

    async def subject(self, token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRefused("the token is not a JWT (three base64url parts separated by dots).") from None
        algorithm = header.get("alg")
        key: Any
        if self._keys is not None and algorithm in JWKS_ALGORITHMS:
            key, algorithms = (await self._keys.key(header.get("kid"))).key, JWKS_ALGORITHMS
        elif self.settings.secret and algorithm in SECRET_ALGORITHMS:
            key, algorithms = self.settings.secret, SECRET_ALGORITHMS
        else:
            accepted = (JWKS_ALGORITHMS if self._keys else []) + (SECRET_ALGORITHMS if self.settings.secret else [])
            raise TokenRefused(
                f"the token's alg {algorithm!r} is not accepted here; sign it with {' or '.join(accepted)}."
            )
        claims = self._decode(token, key, algorithms)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not is_uuid(subject):
            raise TokenRefused("the token's sub must be the entity id (a UUID) its holder speaks as.")
        return subject

    def _decode(self, token: str, key: Any, algorithms: list[str]) -> dict[str, Any]:
        s = self.settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=s.issuer,
                audience=s.audience,
                options={"require": ["sub"], "verify_aud": s.audience is not None},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("the token has expired; get a new one.") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused(
                "the token is not valid yet (nbf/iat in the future); check the issuer's clock."
            ) from None
        except jwt.InvalidSignatureError:
            raise TokenRefused(
                "the token's signature does not verify; it was not signed by this server's key."
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenRefused(f"the token's iss must be {s.issuer!r}.") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused(f"the token's aud must include {s.audience!r}.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"the token has no {exc.claim} claim; it needs sub (the entity id).") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"the token is invalid ({type(exc).__name__}).") from None
        return claims
