"""Any OpenAI-compatible `/chat/completions` server, streamed over the shared httpx client.

Works with OpenAI, DeepSeek, Qwen (DashScope), MiniMax's OpenAI endpoint, Ollama, vLLM and the
llama.cpp server. `stream_chat` is also the transport of MiniMax's native API, whose frames share
this shape plus a `base_resp` status.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from botkit.errors import LLMError
from botkit.llm.base import ChatMessage
from botkit.logmask import scrub

Clock = Callable[[], float]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"

# MiniMax answers HTTP 200 and puts its own status here (protocol.md §9).
_BASE_RESP_MEANING = {
    1000: "server error",
    1001: "timeout",
    1002: "rate limited",
    1004: "authentication failed, check BOTKIT_LLM_API_KEY",
    1008: "insufficient balance",
    1013: "server error",
    1039: "token limit exceeded",
    2013: "invalid parameters",
}


class ChatRequest(BaseModel):
    """The request body; unset optional fields are left out so every server accepts it."""

    model: str
    messages: list[ChatMessage]
    stream: bool = True
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None


class _Text(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    delta: _Text | None = None
    message: _Text | None = None


class _ErrorBody(BaseModel):
    message: str = ""


class _BaseResp(BaseModel):
    status_code: int = 0
    status_msg: str = ""


class ChatFrame(BaseModel):
    """One streamed chunk, a whole `chat.completion`, or an error answer."""

    choices: list[_Choice] = []
    error: _ErrorBody | str | None = None
    base_resp: _BaseResp | None = None


class OpenAIProvider:
    """Chat completions from an OpenAI-compatible server; no key is sent when none is set."""

    name = "openai"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: SecretStr | None,
        model: str,
        timeout: float,
        max_tokens: int,
        temperature: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/chat/completions"
        self._api_key = api_key
        self._model = model
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._clock = clock

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"OpenAIProvider(url={self._url!r}, model={self._model!r})"

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        request = ChatRequest(
            model=self._model,
            messages=list(messages),
            max_tokens=self._max_tokens,
            temperature=self._temperature,
        )
        return stream_chat(
            self._http,
            self._url,
            request,
            name=self.name,
            api_key=self._api_key,
            timeout=self._timeout,
            clock=self._clock,
        )


async def stream_chat(
    http: httpx.AsyncClient,
    url: str,
    request: ChatRequest,
    *,
    name: str,
    api_key: SecretStr | None,
    timeout: float,
    clock: Clock,
) -> AsyncIterator[str]:
    """POST `request` and yield the answer's text; every failure becomes an `LLMError`.

    `timeout` bounds each network step and the whole answer. A full `chat.completion` frame is
    used only when nothing was streamed before it: MiniMax repeats the whole text at the end.
    """
    secret = api_key.get_secret_value() if api_key else ""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    deadline = clock() + timeout
    streamed = False
    try:
        async with http.stream(
            "POST", url, json=request.model_dump(exclude_none=True), headers=headers, timeout=timeout
        ) as response:
            if response.status_code != httpx.codes.OK:
                await response.aread()
                raise LLMError(_scrub(_status_message(name, response), secret))
            async for data in _frames(response):
                if clock() > deadline:
                    raise LLMError(f"{name} timed out after {timeout:g}s")
                frame = _parse_frame(name, data, secret)
                _check_frame(name, frame, secret)
                text = _frame_text(frame, streamed)
                if text:
                    streamed = True
                    yield text
    except httpx.TimeoutException:
        raise LLMError(f"{name} timed out after {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise LLMError(f"{name} request failed: {type(exc).__name__}: {_scrub(str(exc), secret)}") from None


async def _frames(response: httpx.Response) -> AsyncIterator[str]:
    """The `data` of each server-sent event up to `[DONE]`; a plain JSON body is one frame."""
    if response.headers.get("content-type", "").startswith("application/json"):
        yield (await response.aread()).decode()
        return
    lines: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
        elif not line and lines:
            data, lines = "\n".join(lines), []
            if data.strip() == "[DONE]":
                return
            yield data
    if lines and "\n".join(lines).strip() != "[DONE]":
        yield "\n".join(lines)


def _parse_frame(name: str, data: str, secret: str) -> ChatFrame:
    try:
        return ChatFrame.model_validate_json(data)
    except ValidationError:
        # Scrubbed before it is cut short, so a key at the cut is masked whole.
        raise LLMError(f"{name} sent a malformed answer: {scrub(data, secrets=[secret])[:200]!r}") from None


def _check_frame(name: str, frame: ChatFrame, secret: str) -> None:
    if frame.error:
        message = frame.error if isinstance(frame.error, str) else frame.error.message
        raise LLMError(_scrub(f"{name} error: {message}", secret))
    if frame.base_resp and frame.base_resp.status_code != 0:
        code = frame.base_resp.status_code
        meaning = _BASE_RESP_MEANING.get(code, "error")
        raise LLMError(_scrub(f"{name} error {code} ({meaning}): {frame.base_resp.status_msg}", secret))


def _frame_text(frame: ChatFrame, streamed: bool) -> str:
    if not frame.choices:
        return ""
    choice = frame.choices[0]
    if choice.message is not None:
        return "" if streamed else choice.message.content or ""
    if choice.delta is None:
        return ""
    return choice.delta.content or ""


def _status_message(name: str, response: httpx.Response) -> str:
    reason = f"{name} answered HTTP {response.status_code} {response.reason_phrase}"
    detail = _error_detail(response)
    return f"{reason}: {detail}" if detail else reason


def _error_detail(response: httpx.Response) -> str:
    """The server's own explanation: `error.message`, MiniMax's `status_msg`, or the body's start."""
    try:
        frame = ChatFrame.model_validate_json(response.content)
    except ValidationError:
        return response.text.strip()[:200]
    if isinstance(frame.error, str):
        return frame.error
    if frame.error is not None:
        return frame.error.message
    if frame.base_resp is not None:
        return frame.base_resp.status_msg
    return ""


def _scrub(message: str, secret: str) -> str:
    """Servers sometimes quote the key they rejected; never pass it on."""
    return scrub(message, secrets=[secret])
