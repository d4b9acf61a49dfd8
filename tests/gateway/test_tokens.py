"""Signed tokens: what is accepted (sub = the entity), what is refused and why, and the JWKS key cache.

The JWKS document is served by a real HTTP server on 127.0.0.1 that counts its fetches.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from eliza_messaging.gateway.tokens import TokenRefused, TokenSettings, TokenVerifier
from tests.conftest import new_id

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def hs256(claims: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


async def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as caught:
        await verifier.subject(token)
    return caught.value.reason


async def test_a_valid_hs256_token_names_its_subject() -> None:
    me = new_id()
    verifier = TokenVerifier(TokenSettings(secret=SECRET))
    assert await verifier.subject(hs256({"sub": me, "exp": int(time.time()) + 60})) == me


async def test_expired_badly_signed_unsigned_and_malformed_tokens_are_refused_with_a_reason() -> None:
    verifier = TokenVerifier(TokenSettings(secret=SECRET))
    me = new_id()
    assert "expired" in await refusal(verifier, hs256({"sub": me, "exp": int(time.time()) - 60}))
    assert "signature" in await refusal(verifier, hs256({"sub": me}, secret="another-secret-also-long-enough-xx"))
    unsigned = jwt.encode({"sub": me}, None, algorithm="none")
    assert "'none' is not accepted" in await refusal(verifier, unsigned)
    assert "not a JWT" in await refusal(verifier, "not-a-token")
    assert "sub" in await refusal(verifier, hs256({"name": "no subject"}))
    assert "UUID" in await refusal(verifier, hs256({"sub": "alice"}))
    assert "not valid yet" in await refusal(verifier, hs256({"sub": me, "nbf": int(time.time()) + 600}))


async def test_an_rs256_token_is_refused_when_only_a_secret_is_set() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": new_id()}, key, algorithm="RS256")
    reason = await refusal(TokenVerifier(TokenSettings(secret=SECRET)), token)
    assert "'RS256' is not accepted" in reason and "HS256" in reason


async def test_issuer_and_audience_are_checked_only_when_set() -> None:
    me = new_id()
    strict = TokenVerifier(TokenSettings(secret=SECRET, issuer="https://issuer.test", audience="eliza"))
    assert await strict.subject(hs256({"sub": me, "iss": "https://issuer.test", "aud": "eliza"})) == me
    assert "iss" in await refusal(strict, hs256({"sub": me, "iss": "https://evil.test", "aud": "eliza"}))
    assert "aud" in await refusal(strict, hs256({"sub": me, "iss": "https://issuer.test", "aud": "other"}))
    assert "iss" in await refusal(strict, hs256({"sub": me, "aud": "eliza"}))
    lenient = TokenVerifier(TokenSettings(secret=SECRET))
    assert await lenient.subject(hs256({"sub": me, "iss": "anyone", "aud": "anything"})) == me


class Jwks:
    """A JWKS endpoint on 127.0.0.1 whose keys the test changes, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.url = ""

    def publish(self, private: Any, kid: str) -> None:
        if isinstance(private, rsa.RSAPrivateKey):
            jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
            jwk["alg"] = "RS256"
        else:
            jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
            jwk["alg"] = "ES256"
        self.keys.append({**jwk, "kid": kid, "use": "sig"})

    async def handle(self, _: web.Request) -> web.Response:
        self.fetches += 1
        return web.json_response({"keys": self.keys})


@pytest.fixture
async def jwks() -> AsyncIterator[Jwks]:
    served = Jwks()
    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
    yield served
    await runner.cleanup()


async def test_rs256_and_es256_tokens_verify_against_the_published_keys(jwks: Jwks) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks.publish(rsa_key, "rsa-1")
    jwks.publish(ec_key, "ec-1")
    verifier = TokenVerifier(TokenSettings(jwks_url=jwks.url))
    me = new_id()
    assert await verifier.subject(jwt.encode({"sub": me}, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})) == me
    assert await verifier.subject(jwt.encode({"sub": me}, ec_key, algorithm="ES256", headers={"kid": "ec-1"})) == me
    assert jwks.fetches == 1  # the key set is cached
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"sub": me}, stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    assert "signature" in await refusal(verifier, forged)
    hs = hs256({"sub": me})
    assert "'HS256' is not accepted" in await refusal(verifier, hs)  # no secret set: HS256 is not a JWKS alg


async def test_a_rotated_key_is_fetched_once_and_an_unknown_one_is_refused(
    jwks: Jwks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eliza_messaging.gateway import tokens

    monkeypatch.setattr(tokens, "REFETCH_AFTER_S", 0.0)
    old = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.publish(old, "old")
    verifier = TokenVerifier(TokenSettings(jwks_url=jwks.url, jwks_ttl_s=3600))
    me = new_id()
    assert await verifier.subject(jwt.encode({"sub": me}, old, algorithm="RS256", headers={"kid": "old"})) == me
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.publish(new, "new")
    assert await verifier.subject(jwt.encode({"sub": me}, new, algorithm="RS256", headers={"kid": "new"})) == me
    assert jwks.fetches == 2
    unknown = jwt.encode({"sub": me}, new, algorithm="RS256", headers={"kid": "nobody"})
    assert "not among the keys" in await refusal(verifier, unknown)


async def test_the_key_set_is_refetched_after_its_ttl(jwks: Jwks) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwks.publish(key, "k")
    verifier = TokenVerifier(TokenSettings(jwks_url=jwks.url, jwks_ttl_s=0.2))
    token = jwt.encode({"sub": new_id()}, key, algorithm="ES256", headers={"kid": "k"})
    await verifier.subject(token)
    await verifier.subject(token)
    assert jwks.fetches == 1
    await asyncio.sleep(0.3)
    await verifier.subject(token)
    assert jwks.fetches == 2


async def test_an_unreachable_jwks_url_refuses_with_a_reason() -> None:
    verifier = TokenVerifier(TokenSettings(jwks_url="http://127.0.0.1:9/jwks.json"))
    key = ec.generate_private_key(ec.SECP256R1())
    reason = await refusal(verifier, jwt.encode({"sub": new_id()}, key, algorithm="ES256", headers={"kid": "k"}))
    assert "could not fetch" in reason
