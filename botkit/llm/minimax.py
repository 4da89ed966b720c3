"""MiniMax's native chat API (`/v1/text/chatcompletion_v2`).

Errors arrive as HTTP 200 with `base_resp.status_code` != 0 (1002 rate limit, 1004 auth, 1008 balance,
1039 token limit, 2013 bad parameters), in a plain JSON answer or inside the stream; both become an
`LLMError` with the code and MiniMax's message. The stream ends with a full `chat.completion` frame
repeating the answer, which is not yielded again. Reasoning models such as MiniMax-M2 write
`<think>` blocks into the text; `complete()` strips them.
https://platform.minimax.io/docs/api-reference/text-post
"""

from __future__ import annotations

from botkit.llm.chatcompletions import ChatCompletionsProvider

DEFAULT_BASE_URL = "https://api.minimax.io"
DEFAULT_MODEL = "MiniMax-M2"

STATUS_MEANINGS = {
    1000: "server error",
    1001: "timeout",
    1002: "rate limited",
    1004: "authentication failed, check BOTKIT_LLM_API_KEY",
    1008: "insufficient balance",
    1013: "server error",
    1039: "token limit exceeded",
    2013: "invalid parameters",
}
"""MiniMax's `base_resp.status_code` values (protocol.md §9)."""


class MiniMaxProvider(ChatCompletionsProvider):
    """Chat completions from MiniMax; in mainland China use base_url `https://api.minimaxi.com`."""

    name = "minimax"
    path = "/v1/text/chatcompletion_v2"
    default_base_url = DEFAULT_BASE_URL
    default_model = DEFAULT_MODEL
    max_tokens_field = "max_completion_tokens"
    status_meanings = STATUS_MEANINGS
