"""`create_app`: the one place that builds and wires botkit's objects into an ASGI app."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from botkit.config import Settings
from botkit.conversation import Memory
from botkit.handler import Handler
from botkit.intake import Intake
from botkit.llm import get_provider
from botkit.llm.base import Provider
from botkit.logmask import install_log_scrubber
from botkit.responder import Responder
from botkit.restapi import ChatClient
from botkit.store import Store, open_store
from botkit.webhook import create_webhook_router

log = logging.getLogger("botkit.app")

LEASE_MARGIN_SECONDS = 60.0


def create_app(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    provider: Provider | None = None,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The webhook service. Tests pass a transport (the sandbox or a MockTransport), a provider or a store."""
    install_log_scrubber(settings.secrets())
    owns_store = store is None
    the_store = store if store is not None else open_store(settings.store)
    # Built here, not in the lifespan, so a bad setting fails create_app with a ConfigError. The
    # client opens no connection before its first request; the lifespan closes it.
    timeout = httpx.Timeout(max(settings.rest_timeout, settings.llm_timeout), connect=5.0)
    http = httpx.AsyncClient(transport=transport, timeout=timeout)
    model = provider if provider is not None else get_provider(settings, http)
    memory = Memory(the_store, max_turns=settings.history_turns, max_chars=settings.history_chars)
    handler = Handler(
        settings=settings,
        responder=Responder(settings=settings, provider=model, memory=memory),
        store=the_store,
        chat=ChatClient.from_settings(settings, http),
    )
    if settings.callback_token is None:
        log.warning(
            "BOTKIT_CALLBACK_TOKEN is not set: callbacks are not authenticated, so anyone who can "
            "reach %s can make the robots message any user; set it and enable callback auth",
            settings.callback_path,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        intake.start(handler)
        log.info(
            "botkit ready: %s for %s, model %s",
            settings.callback_path,
            ", ".join(settings.robots),
            model.name,
        )
        try:
            yield
        finally:
            await intake.stop()
            await http.aclose()
            if owns_store:
                await the_store.close()

    intake = Intake(
        the_store,
        workers=settings.workers,
        max_attempts=settings.max_attempts,
        lease_seconds=settings.llm_timeout + LEASE_MARGIN_SECONDS,
        clock=clock,
    )
    app = FastAPI(title="botkit", lifespan=lifespan)
    app.state.intake = intake
    app.state.handler = handler
    app.state.store = the_store
    app.include_router(create_webhook_router(settings, intake, clock=clock))

    @app.get("/healthz")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "robots": settings.robots}

    return app
