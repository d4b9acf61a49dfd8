"""The few REST reads a chat client needs: channel history and the agent list.

Both ElizaOS and this server answer ``{success, data}``; ElizaOS before 1.7 spelled the
channel routes ``/central-channels/``, which is tried when ``/channels/`` is not found.
"""

from __future__ import annotations

from typing import Any

import httpx

from .dialects import handshake_headers
from .errors import AgentNotFound, RequestError
from .models import Agent, Message

PAGE = 200
MAX_PAGES = 20


def _error_text(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return (error.get("message") if isinstance(error.get("message"), str) else None), error.get("code")
        if isinstance(error, str):
            return error, None
    return None, None


class RestClient:
    """REST reads against ``base_url`` (``X-API-KEY`` sent when an API key is given)."""

    def __init__(
        self, base_url: str, *, api_key: str | None = None, token: str | None = None, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = handshake_headers(api_key, token)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, **params: Any) -> Any:
        """``data`` of a ``{success: true, data}`` answer; :class:`RequestError` otherwise."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            response = await self._http.get(path, params=query)
        except httpx.HTTPError as exc:
            raise RequestError(
                f"GET {self.base_url}{path} failed: {exc or type(exc).__name__}. Is the server running at this URL?"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or (isinstance(body, dict) and body.get("success") is False):
            text, code = _error_text(body)
            hint = " Pass the server's key with api_key= (header X-API-KEY)." if response.status_code == 401 else ""
            raise RequestError(
                f"GET {path} answered HTTP {response.status_code}: {text or response.reason_phrase}.{hint}",
                status=response.status_code,
                code=code,
            )
        if isinstance(body, dict) and "data" in body:
            return body["data"]
        return body

    async def messages(
        self,
        channel_id: str,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        after_seq: int | None = None,
        before_seq: int | None = None,
    ) -> list[Message]:
        """One page of a channel's messages, newest first, as the server returns them."""
        params = {"limit": limit, "before": before, "after": after, "afterSeq": after_seq, "beforeSeq": before_seq}
        try:
            data = await self.get(f"/api/messaging/channels/{channel_id}/messages", **params)
        except RequestError as exc:
            if exc.status != 404 or exc.code not in (None, "NOT_FOUND"):
                raise
            data = await self.get(f"/api/messaging/central-channels/{channel_id}/messages", **params)
        rows = data.get("messages", []) if isinstance(data, dict) else data
        return [Message.from_rest(row) for row in rows or [] if isinstance(row, dict)]

    async def messages_after(self, channel_id: str, after: int) -> list[Message]:
        """Every message created after ``after`` (epoch ms), oldest first, paging back as needed.

        The ``after`` filter is applied here as well, so a server that ignores the parameter
        still yields only the newer messages.
        """
        found: dict[str, Message] = {}
        before: int | None = None
        for _ in range(MAX_PAGES):
            page = await self.messages(channel_id, limit=PAGE, before=before, after=after)
            fresh = [m for m in page if m.created_at > after]
            found.update((m.id, m) for m in fresh)
            if len(page) < PAGE or len(fresh) < len(page):
                break
            oldest = min(m.created_at for m in page)
            next_before = oldest + 1  # messages sharing that millisecond may straddle the page edge
            if before is not None and next_before >= before:
                next_before = oldest
            before = next_before
        return sorted(found.values(), key=lambda m: (m.created_at, m.id))

    async def messages_after_seq(
        self, channel_id: str, after_seq: int, *, before_seq: int | None = None
    ) -> list[Message]:
        """Every message with an offset above ``after_seq`` (and below ``before_seq``), oldest first.

        Pages back by offset with no page limit: each page ends below the last, so it ends. A
        message without an offset, or at or below ``after_seq``, means the server ignored the
        bounds: it stops there, with what it found.
        """
        found: dict[str, Message] = {}
        while True:
            page = await self.messages(channel_id, limit=PAGE, after_seq=after_seq, before_seq=before_seq)
            fresh = [m for m in page if m.seq is not None and m.seq > after_seq]
            fresh = [m for m in fresh if before_seq is None or (m.seq is not None and m.seq < before_seq)]
            found.update((m.id, m) for m in fresh)
            if len(page) < PAGE or len(fresh) < len(page):
                break
            before_seq = min(m.seq for m in fresh if m.seq is not None)
        return sorted(found.values(), key=lambda m: (m.seq or 0, m.id))

    async def newest_seq(self, channel_id: str) -> int | None:
        """The channel's newest offset (0 when it has no messages); None when the server gives no offsets."""
        page = await self.messages(channel_id, limit=1, after_seq=0)  # by offset: newest first
        if not page:
            return 0
        return page[0].seq

    async def agents(self) -> list[Agent]:
        data = await self.get("/api/agents")
        rows = data.get("agents", []) if isinstance(data, dict) else data
        return [Agent.from_rest(row) for row in rows or [] if isinstance(row, dict)]

    async def find_agent(self, name_or_id: str) -> Agent:
        """The agent whose name (case-insensitive) or id is ``name_or_id``."""
        agents = await self.agents()
        wanted = name_or_id.strip().lower()
        for agent in agents:
            if agent.id.lower() == wanted or agent.name.lower() == wanted:
                return agent
        names = ", ".join(a.name for a in agents) or "none"
        raise AgentNotFound(f"No agent named {name_or_id!r} on {self.base_url}; agents there: {names}.")
