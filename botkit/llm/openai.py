"""Any OpenAI-compatible `/chat/completions` server.

Works with OpenAI, DeepSeek, Qwen (DashScope), MiniMax's OpenAI endpoint, Ollama, vLLM and the
llama.cpp server. Errors follow OpenAI's shape (`error.message`, or a bare string from Ollama).
"""

from __future__ import annotations

from botkit.llm.chatcompletions import ChatCompletionsProvider

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIProvider(ChatCompletionsProvider):
    """Chat completions from an OpenAI-compatible server; a keyless one needs its base URL."""

    name = "openai"
    path = "/chat/completions"
    default_base_url = DEFAULT_BASE_URL
    default_model = DEFAULT_MODEL
    keyless_with_base_url = True
