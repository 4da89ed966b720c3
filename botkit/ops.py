"""What operators and load balancers ask the service: `/metrics` and `/readyz`.

`/healthz` says the process runs; `/readyz` says it can take callbacks, which needs the store: a
callback is only acked once journalled, so a replica whose store is gone should get no traffic.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from botkit.metrics import Metrics
from botkit.store import Store

log = logging.getLogger("botkit.serving")

READY_TIMEOUT_SECONDS = 2.0
READY_PROBE_KEY = "readyz-probe"


def create_ops_router(metrics: Metrics, store: Store) -> APIRouter:
    """`GET /metrics` (Prometheus text format) and `GET /readyz` (200, or 503 with the reason)."""
    router = APIRouter()

    @router.get("/metrics")
    async def scrape() -> Response:
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/readyz")
    async def ready() -> JSONResponse:
        reason = await store_problem(store)
        if reason is not None:
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    return router


async def store_problem(store: Store, timeout: float = READY_TIMEOUT_SECONDS) -> str | None:
    """None when the store answers a cheap read in time, else why not (no addresses or passwords)."""
    try:
        async with asyncio.timeout(timeout):
            await store.get(READY_PROBE_KEY)
    except TimeoutError:
        return f"the store did not answer within {timeout:g} s"
    except Exception as exc:
        # The exception's text can quote a Redis URL with its password; its type is enough here.
        return f"the store failed: {type(exc).__name__}"
    return None
