"""MiniMax's native chat API (`/v1/text/chatcompletion_v2`).

Errors arrive as HTTP 200 with `base_resp.status_code` != 0 (1002 rate limit, 1004 auth, 1008 balance,
1039 token limit, 2013 bad parameters), in a plain JSON answer or inside the stream; both become an
`LLMError` with the code and MiniMax's message. The stream ends with a full `chat.completion` frame
repeating the answer, which is not yielded again. Reasoning models such as MiniMax-M2 write
`<think>` blocks into the text; `complete()` strips them.
https://platform.minimax.io/docs/api-reference/text-post
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

import httpx
from pydantic import SecretStr

from botkit.llm.base import ChatMessage
from botkit.llm.openai import ChatRequest, Clock, stream_chat

DEFAULT_BASE_URL = "https://api.minimax.io"
DEFAULT_MODEL = "MiniMax-M2"


class MiniMaxProvider:
    """Chat completions from MiniMax; in mainland China use base_url `https://api.minimaxi.com`."""

    name = "minimax"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: SecretStr,
        model: str = DEFAULT_MODEL,
        timeout: float,
        max_tokens: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/v1/text/chatcompletion_v2"
        self._api_key = api_key
        self._model = model
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._clock = clock

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"MiniMaxProvider(url={self._url!r}, model={self._model!r})"

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        request = ChatRequest(
            model=self._model, messages=list(messages), max_completion_tokens=self._max_tokens
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
