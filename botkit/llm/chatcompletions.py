"""The chat-completions core every HTTP model provider is a small class on.

`ChatCompletionsProvider` builds the request, streams the server-sent events over the shared httpx
client and maps every failure onto an `LLMError`. A provider names its URL path, defaults, the
field that caps the answer and its own table of error codes; see `openai.py` and `minimax.py`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from botkit.config import Settings
from botkit.errors import ConfigError, LLMError
from botkit.llm.base import ChatMessage, ModelTurn, ToolSpec
from botkit.llm.chatwire import TurnResponse, wire_messages, wire_tools
from botkit.logmask import scrub

Clock = Callable[[], float]

DEFAULT_MAX_TOKENS = 512
"""The answer cap when `BOTKIT_LLM_MAX_TOKENS` is unset."""


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
    """One streamed chunk, a whole `chat.completion`, or an error answer.

    `base_resp` is MiniMax's status, sent with HTTP 200 (also by its OpenAI-compatible endpoint).
    """

    choices: list[_Choice] = []
    error: _ErrorBody | str | None = None
    base_resp: _BaseResp | None = None


class ChatCompletionsProvider:
    """A `/chat/completions`-style server; no key is sent when none is set."""

    name: str
    path: ClassVar[str]
    """Appended to the base URL."""
    default_base_url: ClassVar[str]
    default_model: ClassVar[str]
    max_tokens_field: ClassVar[str] = "max_tokens"
    keyless_with_base_url: ClassVar[bool] = False
    """True when a server of the provider's kind at its own base URL may need no key (Ollama, vLLM)."""
    status_meanings: ClassVar[Mapping[int, str]] = {}
    """What the provider's `base_resp.status_code` values mean, for the error message."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        api_key: SecretStr | None,
        model: str | None = None,
        timeout: float,
        max_tokens: int,
        temperature: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._url = f"{(base_url or self.default_base_url).rstrip('/')}{self.path}"
        self._api_key = api_key
        self._model = model or self.default_model
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> Self:
        """The provider `BOTKIT_LLM=<name>` builds; a missing key is a `ConfigError`."""
        if settings.llm_api_key is None and not (
            cls.keyless_with_base_url and settings.llm_base_url is not None
        ):
            keyless = ", or BOTKIT_LLM_BASE_URL for a keyless server" if cls.keyless_with_base_url else ""
            raise ConfigError(f"BOTKIT_LLM={cls.name} needs BOTKIT_LLM_API_KEY{keyless}")
        return cls(
            http,
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            timeout=settings.llm_timeout,
            max_tokens=settings.llm_max_tokens or DEFAULT_MAX_TOKENS,
        )

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r}, model={self._model!r})"

    def body(self, messages: Sequence[ChatMessage], *, stream: bool = True) -> dict[str, Any]:
        """The JSON posted for `messages`; unset options are left out so every server accepts it."""
        body: dict[str, Any] = {"model": self._model, "messages": wire_messages(messages), "stream": stream}
        if self._temperature is not None:
            body["temperature"] = self._temperature
        return {**body, self.max_tokens_field: self._max_tokens}

    async def turn(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> ModelTurn:
        """One whole (not streamed) reply, offered `tools`: its text and the tools it calls."""
        body = self.body(messages, stream=False)
        if tools:
            body["tools"] = wire_tools(tools)
        secret = self._secret()
        with self._network_errors(secret):
            response = await self._http.post(
                self._url, json=body, headers=_auth(secret), timeout=self._timeout
            )
        if response.status_code != httpx.codes.OK:
            raise LLMError(_scrub(self._status_message(response), secret))
        self._check_frame(self._parse_frame(response.text, secret), secret)
        try:
            return TurnResponse.model_validate_json(response.content).turn()
        except ValidationError:
            raise LLMError(
                f"{self.name} sent a malformed tool answer: {_scrub(response.text, secret)[:200]!r}"
            ) from None

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """POST the request and yield the answer's text; every failure becomes an `LLMError`.

        The timeout bounds each network step and the whole answer. A full `chat.completion` frame
        is used only when nothing was streamed before it: MiniMax repeats the whole text at the end.
        """
        secret = self._secret()
        deadline = self._clock() + self._timeout
        streamed = False
        with self._network_errors(secret):
            async with self._http.stream(
                "POST", self._url, json=self.body(messages), headers=_auth(secret), timeout=self._timeout
            ) as response:
                if response.status_code != httpx.codes.OK:
                    await response.aread()
                    raise LLMError(_scrub(self._status_message(response), secret))
                async for data in _frames(response):
                    if self._clock() > deadline:
                        raise LLMError(f"{self.name} timed out after {self._timeout:g}s")
                    frame = self._parse_frame(data, secret)
                    self._check_frame(frame, secret)
                    text = _frame_text(frame, streamed)
                    if text:
                        streamed = True
                        yield text

    def _secret(self) -> str:
        return self._api_key.get_secret_value() if self._api_key else ""

    @contextmanager
    def _network_errors(self, secret: str) -> Iterator[None]:
        """httpx's failures as `LLMError`s, the key scrubbed from what the server or library said."""
        try:
            yield
        except httpx.TimeoutException:
            raise LLMError(f"{self.name} timed out after {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {_scrub(str(exc), secret)}"
            raise LLMError(f"{self.name} request failed: {reason}") from None

    def _parse_frame(self, data: str, secret: str) -> ChatFrame:
        try:
            return ChatFrame.model_validate_json(data)
        except ValidationError:
            # Scrubbed before it is cut short, so a key at the cut is masked whole.
            shown = scrub(data, secrets=[secret])[:200]
            raise LLMError(f"{self.name} sent a malformed answer: {shown!r}") from None

    def _check_frame(self, frame: ChatFrame, secret: str) -> None:
        if frame.error:
            message = frame.error if isinstance(frame.error, str) else frame.error.message
            raise LLMError(_scrub(f"{self.name} error: {message}", secret))
        if frame.base_resp and frame.base_resp.status_code != 0:
            code = frame.base_resp.status_code
            meaning = self.status_meanings.get(code)
            status = f"{code} ({meaning})" if meaning else str(code)
            raise LLMError(_scrub(f"{self.name} error {status}: {frame.base_resp.status_msg}", secret))

    def _status_message(self, response: httpx.Response) -> str:
        reason = f"{self.name} answered HTTP {response.status_code} {response.reason_phrase}"
        detail = _error_detail(response)
        return f"{reason}: {detail}" if detail else reason


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


def _frame_text(frame: ChatFrame, streamed: bool) -> str:
    if not frame.choices:
        return ""
    choice = frame.choices[0]
    if choice.message is not None:
        return "" if streamed else choice.message.content or ""
    if choice.delta is None:
        return ""
    return choice.delta.content or ""


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


def _auth(secret: str) -> dict[str, str]:
    """The Authorization header; none for a keyless server."""
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def _scrub(message: str, secret: str) -> str:
    """Servers sometimes quote the key they rejected; never pass it on."""
    return scrub(message, secrets=[secret])
