"""`create_app`: the one place that builds and wires botkit's objects into an ASGI app."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from botkit.bot import Bot, check_bot
from botkit.config import Settings
from botkit.handler import Handler
from botkit.httpclient import create_http_client
from botkit.intake import Intake
from botkit.limits import UserLimits
from botkit.llm import get_provider
from botkit.llm.base import Provider
from botkit.llm.limit import Limited
from botkit.logmask import install_log_scrubber
from botkit.metrics import Metrics
from botkit.ops import create_ops_router
from botkit.restapi import ChatClient
from botkit.store import Store, open_store
from botkit.webhook import Webhook

log = logging.getLogger("botkit.app")


@dataclass(frozen=True)
class Wiring:
    """What `create_app` built that a test or a harness may need: settle the intake, read the store."""

    settings: Settings
    intake: Intake
    store: Store


def wiring_of(app: Starlette) -> Wiring:
    """The `Wiring` of an app made by `create_app`; `TypeError` for any other app."""
    wiring = getattr(app.state, "botkit", None)
    if not isinstance(wiring, Wiring):
        raise TypeError("this app was not made by botkit.create_app")
    return wiring


class BotkitApp(FastAPI):
    """FastAPI with the webhook in front: a callback goes straight to the bare ASGI `Webhook`,
    every other request (health, metrics, docs) and the lifespan through FastAPI."""

    def __init__(self, webhook: Webhook, **options: Any) -> None:
        super().__init__(**options)
        self.webhook = webhook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.webhook.serves(scope):
            await self.webhook(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    provider: Provider | None = None,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    bot: Bot | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> FastAPI:
    """The webhook service answering as `bot` (default: prompt, memory and model, as configured).
    Tests pass a transport (the sandbox or a MockTransport), a provider, a store, and `clock` with
    `sleep` (the pace of streamed replies); `wiring_of(app)` gives back what was built."""
    install_log_scrubber(settings.secrets())
    owns_store = store is None
    the_store = store if store is not None else open_store(settings.store)
    # Built here, not in the lifespan, so a bad setting fails create_app with a ConfigError. The
    # client opens no connection before its first request; the lifespan closes it.
    http = create_http_client(settings, transport)
    model = provider if provider is not None else get_provider(settings, http)
    metrics = Metrics(in_flight=lambda: intake.in_flight, backlog=the_store.backlog)
    handler = Handler(
        settings=settings,
        provider=Limited(model, settings.llm_concurrency or settings.max_in_flight),
        store=the_store,
        chat=ChatClient.from_settings(settings, http, metrics=metrics),
        limits=UserLimits.from_settings(settings, clock=clock),
        metrics=metrics,
        bot=bot,
        clock=clock,
        sleep=sleep,
    )
    if bot is not None:
        check_bot(bot, settings, model)
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
        max_in_flight=settings.max_in_flight,
        max_attempts=settings.max_attempts,
        lease_seconds=settings.lease_seconds,
        clock=clock,
    )
    docs = settings.api_docs  # off by default: the webhook port need not describe itself to strangers
    app = BotkitApp(
        Webhook(settings, intake, clock=clock, metrics=metrics),
        title="botkit",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.botkit = Wiring(settings=settings, intake=intake, store=the_store)
    app.include_router(create_ops_router(metrics, the_store))

    @app.get("/healthz")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "robots": settings.robots, "llm": model.name, "model": _model_of(model)}

    return app


def _model_of(provider: Provider) -> str | None:
    """The model behind a provider, for people asking "who answers?" (None for echo and custom ones)."""
    model = getattr(provider, "model", None)
    return model if isinstance(model, str) else None
