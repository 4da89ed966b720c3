"""The fake backend as a FastAPI app: `POST /v4/{service}/{command}` plus the `/sandbox/api` control API.

Every REST answer is HTTP 200 with Tencent's envelope. Checks run in this order:
1. URL, with the codes of Tencent's error table (https://trtc.io/document/34348): `sdkappid` given
   (60012), a number (60006) and ours (70020); `contenttype=json` (60002); `identifier` (60004) and
   `usersig` (60005) given; the UserSig verified by botkit (70003, 70014, 70013, 70009, 70001);
   `identifier` is the admin (60010).
2. Command: an unknown "service/command" is 60002.
3. Body: read as UTF-8 JSON whatever `Content-Type` says. Tencent wants `{}` rather than nothing, so
   an empty body fails like any unparsable one: 90001 with Tencent's text.
4. Faults: with `rest_failure_rate`, the call fails with `rest_failure_code` and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.applications import Starlette

from botkit.errorcodes import ErrorCode
from botkit.errors import UserSigError
from botkit.httpclient import create_http_client
from botkit.lab.recording import json_or_text, recorded
from botkit.usersig import verify_usersig
from sandbox.backend import Backend
from sandbox.commands import find_command
from sandbox.control import control_router
from sandbox.errorcodes import SandboxError
from sandbox.faults import rest_failure
from sandbox.models import SandboxConfig
from sandbox.state import SandboxState


def create_backend_app(
    state: SandboxState,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> FastAPI:
    """The fake Chat backend over `state`; callbacks go out through `transport` (the network if None).

    The lifespan opens the one `httpx.AsyncClient` callbacks use and cancels pending ones at exit;
    `backend_of(app)` gives the `Backend` (state, traffic, faults, `dispatcher.drain()`). `clock`
    and `sleep` are the fake's own time: message times, callback `RequestTime`, delayed callbacks.
    """
    backend = Backend(state, clock=clock, sleep=sleep, rng=rng)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with create_http_client(transport=transport) as client, backend.dispatcher.running(client):
            yield

    app = FastAPI(title="botkit sandbox: fake Tencent Cloud Chat", lifespan=lifespan)
    app.state.backend = backend
    app.include_router(_rest_router(backend))
    app.include_router(control_router(backend))
    return app


def backend_of(app: Starlette) -> Backend:
    """The `Backend` behind an app made by `create_backend_app`."""
    backend = getattr(app.state, "backend", None)
    if not isinstance(backend, Backend):
        raise TypeError("this app was not made by create_backend_app")
    return backend


def check_url(query: Mapping[str, str], config: SandboxConfig, *, clock: Callable[[], float]) -> None:
    """The REST URL checks, in Tencent's order; raises `SandboxError` with the code it answers."""
    sdkappid = query.get("sdkappid")
    if not sdkappid:
        raise SandboxError(ErrorCode.SDKAPPID_REQUIRED)
    if not sdkappid.isdigit():
        raise SandboxError(ErrorCode.SDKAPPID_INVALID, "sdkappid must be a number.")
    if sdkappid != str(config.sdkappid):
        raise SandboxError(ErrorCode.SDKAPPID_NOT_FOUND, f"SDKAppID {sdkappid} does not exist here.")
    if query.get("contenttype") != "json":
        raise SandboxError(ErrorCode.HTTP_PARSE, "contenttype must be json.")
    identifier, usersig = query.get("identifier"), query.get("usersig")
    if not identifier:
        raise SandboxError(ErrorCode.URL_ACCOUNT, "identifier is missing from the URL.")
    if not usersig:
        raise SandboxError(ErrorCode.URL_USERSIG, "usersig is missing from the URL.")
    try:
        verify_usersig(usersig, sdkappid=config.sdkappid, key=config.key, identifier=identifier, clock=clock)
    except UserSigError as exc:
        raise SandboxError(exc.error_code) from None
    if identifier != config.admin:
        raise SandboxError(ErrorCode.NOT_ADMIN)


def parse_body(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object; empty, non-UTF-8, invalid or non-object bodies are 90001."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SandboxError(ErrorCode.JSON_PARSE) from None
    if not isinstance(data, dict):
        raise SandboxError(ErrorCode.JSON_PARSE)
    return data


def _rest_router(backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.post("/v4/{service}/{command}")
    async def rest(service: str, command: str, request: Request) -> JSONResponse:
        started = time.perf_counter()
        raw = await request.body()
        client_ip = request.client.host if request.client else "127.0.0.1"
        answer = _answer(backend, f"{service}/{command}", request.query_params, raw, client_ip)
        code = answer["ErrorCode"]
        backend.recording.append(
            recorded(
                "rest",
                f"{service}/{command}",
                request.query_params,
                json_or_text(raw),
                response=answer,
                at=backend.clock(),
            )
        )
        backend.traffic.record(
            "rest",
            method="POST",
            url=str(request.url),
            request=json_or_text(raw),
            response=answer,
            status=200,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=None if code == 0 else f"ErrorCode {code}: {answer['ErrorInfo']}",
        )
        return JSONResponse(answer)

    return router


def _answer(
    backend: Backend, name: str, query: Mapping[str, str], raw: bytes, client_ip: str
) -> dict[str, Any]:
    try:
        check_url(query, backend.state.config, clock=backend.clock)
        find_command(name)
        body = parse_body(raw)
        failure = rest_failure(backend.faults, backend.rng)
        if failure is not None:
            raise failure
    except SandboxError as exc:
        return exc.envelope()
    return backend.execute(name, body, client_ip=client_ip)
