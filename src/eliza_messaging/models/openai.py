"""Any OpenAI-compatible chat endpoint (OpenAI, Ollama, llama.cpp, vLLM, LM Studio, ...).

Uses the official SDK's ``AsyncOpenAI`` with ``stream=True``. Everything that can go wrong
on the wire becomes a :class:`ModelError` whose message tells an operator what to check,
because these messages end up in server logs and in front of users, not in a debugger.

Time limits, from the outside in:

* ``request.timeout_s``: deadline for the whole reply, first byte to last;
* ``stall_timeout_s``: longest silence tolerated between two pieces of a streamed reply;
* ``timeout_s`` (``OPENAI_TIMEOUT``): the SDK's per-HTTP-request timeout.

The overall deadline is enforced with ``asyncio.timeout_at`` around every await inside the
generator rather than one ``asyncio.timeout`` around the ``async for``: a timeout scope must
not stay open across ``yield`` (it would cancel the consumer's code, not ours).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import openai
from openai import AsyncOpenAI, AsyncStream, omit
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam

from .base import ChatTurn, GenerationRequest, ModelError, ModelSize

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LARGE_MODEL",
    "DEFAULT_SMALL_MODEL",
    "OpenAIModel",
    "OpenAISettings",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_SMALL_MODEL = "gpt-4o-mini"
DEFAULT_LARGE_MODEL = "gpt-4o"
# Local servers (Ollama, llama.cpp) want no key, but the SDK refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_STALL_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 2

_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")
_SHOULD_RESPOND_TURNS = 12
_SHOULD_RESPOND_CHARS = 600


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """Where the endpoint is and how patient to be with it.

    Environment names: ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``OPENAI_SMALL_MODEL``,
    ``OPENAI_LARGE_MODEL``, ``OPENAI_TIMEOUT`` (seconds), ``OPENAI_STALL_TIMEOUT`` (seconds),
    ``OPENAI_MAX_RETRIES``.
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str = ""
    small_model: str = DEFAULT_SMALL_MODEL
    large_model: str = DEFAULT_LARGE_MODEL
    timeout_s: float = DEFAULT_TIMEOUT_S
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES

    def __post_init__(self) -> None:
        if not self.base_url.strip():
            raise ValueError("OPENAI_BASE_URL must not be empty")
        if not self.small_model.strip() or not self.large_model.strip():
            raise ValueError("OPENAI_SMALL_MODEL and OPENAI_LARGE_MODEL must not be empty")
        if self.timeout_s <= 0 or self.stall_timeout_s <= 0:
            raise ValueError("OPENAI_TIMEOUT and OPENAI_STALL_TIMEOUT must be positive")
        if self.max_retries < 0:
            raise ValueError("OPENAI_MAX_RETRIES must not be negative")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpenAISettings:
        """Read the ``OPENAI_*`` variables; unset or empty ones keep their defaults."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        def number(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None

        retries = get("OPENAI_MAX_RETRIES")
        try:
            max_retries = int(retries) if retries is not None else DEFAULT_MAX_RETRIES
        except ValueError:
            raise ValueError(f"OPENAI_MAX_RETRIES must be a whole number, got {retries!r}") from None
        return cls(
            base_url=get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
            api_key=env.get("OPENAI_API_KEY", "").strip(),
            small_model=get("OPENAI_SMALL_MODEL") or DEFAULT_SMALL_MODEL,
            large_model=get("OPENAI_LARGE_MODEL") or DEFAULT_LARGE_MODEL,
            timeout_s=number("OPENAI_TIMEOUT", DEFAULT_TIMEOUT_S),
            stall_timeout_s=number("OPENAI_STALL_TIMEOUT", DEFAULT_STALL_TIMEOUT_S),
            max_retries=max_retries,
        )

    def model_for(self, size: ModelSize) -> str:
        """The model name to ask for at this size."""
        return self.large_model if size == "large" else self.small_model


def _public_url(url: str) -> str:
    """The URL without any ``user:password@`` part, safe to show in messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _message(turn: ChatTurn) -> ChatCompletionMessageParam:
    """One turn in the chat format; ``name`` tells group speakers apart (sanitised as required)."""
    if turn.role == "system":
        return {"role": "system", "content": turn.content}
    if turn.role == "assistant":
        return {"role": "assistant", "content": turn.content}
    name = _NAME_RE.sub("_", turn.name or "").strip("_")[:64]
    if name:
        return {"role": "user", "content": turn.content, "name": name}
    return {"role": "user", "content": turn.content}


def _content_of_completion(data: object) -> str | None:
    """The reply text of a non-streamed completion given as plain JSON, if it is one."""
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    first = cast(dict[str, Any], choices[0])
    message = first.get("message")
    if isinstance(message, dict):
        content = message.get("content")
        return content if isinstance(content, str) else ""
    text = first.get("text")  # legacy completions shape, as some servers still send
    return text if isinstance(text, str) else None


def _completion_text(completion: object) -> str | None:
    """Reply text of an SDK completion; None when the SDK could not parse the body."""
    if isinstance(completion, str | bytes):
        return None
    choices = getattr(completion, "choices", None)
    if not choices:
        return "" if isinstance(choices, list) else None
    content = getattr(getattr(choices[0], "message", None), "content", None)
    return content if isinstance(content, str) else ""


def _error_detail(data: object) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        message = data["error"].get("message")
        if isinstance(message, str):
            return message
    return None


def _delta_text(chunk: ChatCompletionChunk) -> str:
    choices = getattr(chunk, "choices", None) or []
    for choice in choices:
        if getattr(choice, "index", 0) == 0:
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None)
            return content if isinstance(content, str) else ""
    return ""


class _Deadline(Exception):
    """Internal: the whole-reply deadline passed (turned into a ModelError by the caller)."""


class _Stalled(Exception):
    """Internal: the stream went silent for longer than the stall timeout."""


class OpenAIModel:
    """``TextModel`` backed by an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    name: str = "openai"

    def __init__(self, settings: OpenAISettings | None = None, *, client: AsyncOpenAI | None = None) -> None:
        self.settings = settings if settings is not None else OpenAISettings.from_env()
        self.endpoint = _public_url(self.settings.base_url)
        self._client = client or AsyncOpenAI(
            api_key=self.settings.api_key or PLACEHOLDER_API_KEY,
            base_url=self.settings.base_url,
            timeout=self.settings.timeout_s,
            max_retries=self.settings.max_retries,
        )

    # -- TextModel --------------------------------------------------------------------

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Stream the reply's text deltas; raise :class:`ModelError` with an actionable message."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.timeout_s
        model = self.settings.model_for(request.size)
        produced = False
        try:
            stream = await self._within(deadline, self._create_stream(request, model))
            try:
                content_type = stream.response.headers.get("content-type", "").lower()
                if "event-stream" not in content_type:
                    # The server ignored stream=True: read its body as one completion.
                    body = await self._within(deadline, stream.response.aread())
                    text = self._parse_body(body)
                    if text:
                        produced = True
                        yield text
                    return
                iterator = stream.__aiter__()
                while True:
                    stall_at = loop.time() + self.settings.stall_timeout_s
                    try:
                        async with asyncio.timeout_at(min(deadline, stall_at)):
                            chunk = await anext(iterator)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise (_Deadline() if loop.time() >= deadline else _Stalled()) from None
                    piece = _delta_text(chunk)
                    if piece:
                        produced = True
                        yield piece
            finally:
                await stream.close()
        except (json.JSONDecodeError, openai.APIResponseValidationError) as err:
            if produced:
                raise self._error(err, model, request, produced) from err
            # The endpoint answered in something the SDK's stream parser can't read; ask
            # once more without streaming, which every compatible server supports.
            log.info("stream from %s was unreadable (%s); retrying without streaming", self.endpoint, err)
            text = await self._complete_once(request, model, deadline)
            if text:
                yield text
        except (openai.OpenAIError, _Deadline, _Stalled) as err:
            raise self._error(err, model, request, produced) from err

    async def should_respond(self, request: GenerationRequest) -> bool:
        """Ask the small model RESPOND or IGNORE; stay quiet (False) if it can't be asked."""
        agent = request.agent_name.strip() or "the assistant"
        system = (
            f"You decide whether {agent} should reply to the last message in a group conversation. "
            f"{agent} should reply when the message is addressed to {agent}, continues a conversation "
            f"with {agent}, or asks something {agent} is clearly meant to answer; otherwise {agent} "
            "stays quiet. Answer with exactly one word: RESPOND or IGNORE."
        )
        lines = []
        for turn in request.turns[-_SHOULD_RESPOND_TURNS:]:
            if turn.role == "system":
                continue
            speaker = agent if turn.role == "assistant" else (turn.name or "User")
            lines.append(f"{speaker}: {turn.content.strip()[:_SHOULD_RESPOND_CHARS]}")
        transcript = "\n".join(lines) or "(no messages)"
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {
                "role": "user",
                "content": f"{transcript}\n\nShould {agent} reply to the last message? Answer RESPOND or IGNORE.",
            },
        ]
        deadline = asyncio.get_running_loop().time() + min(request.timeout_s, self.settings.timeout_s)
        model = self.settings.small_model
        try:
            completion = await self._within(
                deadline,
                self._client.chat.completions.create(
                    model=model, messages=messages, stream=False, max_tokens=8, temperature=0.0
                ),
            )
        except (openai.OpenAIError, _Deadline, json.JSONDecodeError) as err:
            problem = self._error(err, model, request, produced=False)
            log.warning("should_respond: %s", problem)
            return False
        return _decide(_completion_text(completion) or "")

    async def aclose(self) -> None:
        """Close the SDK's HTTP connection pool."""
        await self._client.close()

    # -- internals --------------------------------------------------------------------

    def _messages(self, request: GenerationRequest) -> list[ChatCompletionMessageParam]:
        return [_message(turn) for turn in request.turns]

    def _create_stream(self, request: GenerationRequest, model: str) -> Awaitable[AsyncStream[ChatCompletionChunk]]:
        """The streamed chat-completions call with the request's sampling options."""
        return self._client.chat.completions.create(
            model=model,
            messages=self._messages(request),
            stream=True,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=list(request.stop[:4]) if request.stop else omit,
            seed=request.seed if request.seed is not None else omit,
        )

    def _create_completion(self, request: GenerationRequest, model: str) -> Awaitable[ChatCompletion]:
        """The same call without streaming, for endpoints whose streams can't be read."""
        return self._client.chat.completions.create(
            model=model,
            messages=self._messages(request),
            stream=False,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=list(request.stop[:4]) if request.stop else omit,
            seed=request.seed if request.seed is not None else omit,
        )

    @staticmethod
    async def _within(deadline: float, awaitable: Awaitable[_T]) -> _T:
        """Await under the overall deadline, reporting it as ``_Deadline``."""
        try:
            async with asyncio.timeout_at(deadline):
                return await awaitable
        except TimeoutError:
            raise _Deadline() from None

    async def _complete_once(self, request: GenerationRequest, model: str, deadline: float) -> str:
        try:
            completion = await self._within(deadline, self._create_completion(request, model))
        except (openai.OpenAIError, _Deadline, json.JSONDecodeError) as err:
            raise self._error(err, model, request, produced=False) from err
        text = _completion_text(completion)
        if text is None:  # the SDK hands back raw text when the body is not JSON at all
            raise ModelError(self._not_openai_format())
        return text

    def _parse_body(self, body: bytes) -> str:
        """A completion sent as plain JSON (or SSE with the wrong content type)."""
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if data is not None:
            detail = _error_detail(data)
            if detail is not None:
                raise ModelError(f"The model endpoint {self.endpoint} reported an error: {detail}")
            content = _content_of_completion(data)
            if content is not None:
                return content
        pieces: list[str] = []
        for line in text.splitlines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            try:
                event = json.loads(payload)
            except json.JSONDecodeError:
                continue
            for choice in event.get("choices", []) if isinstance(event, dict) else []:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    delta = choice.get("delta") or {}
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(content, str):
                        pieces.append(content)
        if pieces:
            return "".join(pieces)
        raise ModelError(self._not_openai_format())

    def _not_openai_format(self) -> str:
        return (
            f"The model endpoint {self.endpoint} answered in a format that is not the OpenAI chat "
            "format; check that OPENAI_BASE_URL points at an OpenAI-compatible API (it usually ends in /v1)."
        )

    def _error(self, err: BaseException, model: str, request: GenerationRequest, produced: bool) -> ModelError:
        """Turn any failure into one sentence an operator can act on."""
        url = self.endpoint
        size_var = "OPENAI_LARGE_MODEL" if request.size == "large" else "OPENAI_SMALL_MODEL"
        if isinstance(err, _Deadline):
            if produced:
                return ModelError(
                    f"The model endpoint {url} did not finish its reply within {request.timeout_s:g} s; "
                    "ask for shorter replies or raise the reply timeout."
                )
            return ModelError(
                f"The model endpoint {url} did not answer within {request.timeout_s:g} s; "
                "check OPENAI_BASE_URL and that the server is not overloaded, or raise the reply timeout."
            )
        if isinstance(err, _Stalled):
            stall = self.settings.stall_timeout_s
            where = "in the middle of a reply" if produced else "after starting its reply"
            return ModelError(
                f"The model endpoint {url} went silent for {stall:g} s {where}; "
                "check that the server is not overloaded, or raise OPENAI_STALL_TIMEOUT."
            )
        if isinstance(err, openai.APITimeoutError):
            return ModelError(
                f"The model endpoint {url} did not answer within {self.settings.timeout_s:g} s; "
                "check OPENAI_BASE_URL or raise OPENAI_TIMEOUT."
            )
        if isinstance(err, openai.APIConnectionError):
            cause = err.__cause__ or err.__context__
            reason = f" ({cause})" if cause is not None and str(cause) else ""
            if produced:
                return ModelError(
                    f"The connection to the model endpoint {url} broke in the middle of a reply{reason}; "
                    "try again, and check the server's logs if it keeps happening."
                )
            return ModelError(
                f"Could not reach the model endpoint {url}{reason}; "
                "check OPENAI_BASE_URL and that the server is running."
            )
        if isinstance(err, openai.APIStatusError):
            status = err.status_code
            detail = _status_detail(err)
            if status in (401, 403):
                return ModelError(
                    f"The model endpoint {url} rejected the API key (HTTP {status}{detail}); check OPENAI_API_KEY."
                )
            if status == 404:
                return ModelError(
                    f"The model endpoint {url} has no model {model!r} or no chat completions route "
                    f"(HTTP 404{detail}); check {size_var} and that OPENAI_BASE_URL ends in /v1."
                )
            if status == 429:
                return ModelError(
                    f"The model endpoint {url} is rate-limiting requests (HTTP 429{detail}); "
                    "wait a moment, or check the account's quota."
                )
            if 400 <= status < 500:
                return ModelError(
                    f"The model endpoint {url} refused the request for model {model!r} (HTTP {status}{detail}); "
                    f"check {size_var} and the model settings."
                )
            return ModelError(
                f"The model endpoint {url} failed with HTTP {status}{detail}; "
                "check the server's logs, or try again later."
            )
        if isinstance(err, openai.APIResponseValidationError | json.JSONDecodeError):
            return ModelError(self._not_openai_format())
        if isinstance(err, openai.APIError):
            return ModelError(f"The model endpoint {url} reported an error: {err.message}")
        return ModelError(f"The model endpoint {url} failed: {err}")


def _status_detail(err: openai.APIStatusError) -> str:
    body = err.body
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message.strip():
        return f": {message.strip()[:200].rstrip('.')}"
    return ""


def _decide(answer: str) -> bool:
    """True when RESPOND comes before any IGNORE in the model's answer."""
    upper = answer.upper()
    respond, ignore = upper.find("RESPOND"), upper.find("IGNORE")
    return respond >= 0 and (ignore < 0 or respond < ignore)
