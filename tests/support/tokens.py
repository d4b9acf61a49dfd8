"""HS256 bearer tokens for tests of servers that verify JWTs with a shared secret."""

from __future__ import annotations

import time

import jwt


def bearer(sub: str, secret: str) -> dict[str, str]:
    """An ``Authorization`` header carrying a token for ``sub`` signed with ``secret``, valid five minutes."""
    claims = {"sub": sub, "exp": int(time.time()) + 300}
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}
