"""`/metrics` after a small load through the sandbox, `/readyz`, and the API docs kept off the port."""

from __future__ import annotations

import importlib.util

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from botkit.app import create_app
from botkit.config import Settings
from botkit.lab.processes import free_port
from botkit.metrics import Metrics
from botkit.store import open_store
from sandbox.chat import Chat
from sandbox.faults import Faults
from sandbox.harness import InProcessSandbox
from tests.support import c2c_body, callback_url, fail_rest_calls

C2C = "Bot.OnC2CMessage"
GROUP = "Bot.OnGroupMessage"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by its name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def scrape(app: Starlette) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def test_metrics_count_a_small_load_exactly(sandbox: InProcessSandbox, chat: Chat) -> None:
    bot = sandbox.bot
    assert bot is not None
    sandbox.backend.faults = Faults(duplicate_rate=1.0)
    await chat.send("hello")
    await sandbox.settle()
    fail_rest_calls(sandbox, 60008, times=1)
    await chat.send_group("and here")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bot), base_url="http://bot") as http:
        forged = await http.post(callback_url(C2C, token="not-the-token"), content=c2c_body("x"))
        broken = await http.post(callback_url(GROUP), content=b"{")
        unknown = await http.post(callback_url("State.StateChange", token=None), content=b"{}")
    assert (forged.status_code, broken.status_code, unknown.status_code) == (403, 400, 403)

    scraped = await scrape(bot)

    callbacks = "botkit_callbacks_total"
    assert value(scraped, callbacks, command=C2C, result="acked", reason="") == 1
    assert value(scraped, callbacks, command=C2C, result="duplicate", reason="") == 1
    assert value(scraped, callbacks, command=GROUP, result="acked", reason="") == 1
    assert value(scraped, callbacks, command=C2C, result="refused", reason="forbidden") == 1
    assert value(scraped, callbacks, command=GROUP, result="refused", reason="invalid") == 1
    assert value(scraped, callbacks, command="other", result="refused", reason="forbidden") == 1
    assert value(scraped, "botkit_replies_sent_total", kind="c2c") == 1
    assert value(scraped, "botkit_replies_sent_total", kind="group") == 1
    assert value(scraped, "botkit_rest_seconds_count", command="openim/sendmsg") == 1
    assert value(scraped, "botkit_rest_seconds_count", command="group_open_http_svc/send_group_msg") == 2
    assert (
        value(scraped, "botkit_rest_errors_total", command="group_open_http_svc/send_group_msg", code="60008")
        == 1
    )
    assert value(scraped, "botkit_model_seconds_count", provider="echo", outcome="ok") == 2
    assert value(scraped, "botkit_answers_in_flight") == 0
    assert value(scraped, "botkit_journal_backlog") == 0


async def test_two_apps_in_one_process_count_apart(botkit_settings: Settings) -> None:
    first = create_app(botkit_settings, store=open_store("memory://"))
    second = create_app(botkit_settings, store=open_store("memory://"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://bot") as http:
        await http.post(callback_url(C2C, token="wrong"), content=c2c_body())

    refused = {"command": C2C, "result": "refused", "reason": "forbidden"}
    assert value(await scrape(first), "botkit_callbacks_total", **refused) == 1
    assert value(await scrape(second), "botkit_callbacks_total", **refused) == 0


async def test_the_journal_backlog_gauge_reads_the_callable_at_each_scrape() -> None:
    pending = [3]

    async def backlog() -> int:
        return pending[0]

    metrics = Metrics(in_flight=lambda: 2, backlog=backlog)
    first = samples((await metrics.render()).decode())
    pending[0] = 0
    second = samples((await metrics.render()).decode())

    assert value(first, "botkit_journal_backlog") == 3
    assert value(second, "botkit_journal_backlog") == 0
    assert value(first, "botkit_answers_in_flight") == 2


async def test_readyz_is_200_while_the_store_answers(botkit_settings: Settings) -> None:
    app = create_app(botkit_settings, store=open_store("memory://"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
        response = await http.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "ready"})


@pytest.mark.skipif(importlib.util.find_spec("redis") is None, reason="the redis package is not installed")
async def test_readyz_is_503_with_the_reason_when_the_store_is_unreachable(botkit_settings: Settings) -> None:
    url = f"redis://:s3cret-password@127.0.0.1:{free_port()}/0"  # a port nothing listens on
    store = open_store(url)
    app = create_app(botkit_settings, store=store)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
            response = await http.get("/readyz")
    finally:
        await store.close()

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["reason"].startswith("the store ")
    assert "s3cret" not in response.text


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_the_api_docs_are_off_unless_switched_on(botkit_settings: Settings, path: str) -> None:
    hidden = create_app(botkit_settings, store=open_store("memory://"))
    shown = create_app(botkit_settings.model_copy(update={"api_docs": True}), store=open_store("memory://"))

    for app, status in ((hidden, 404), (shown, 200)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
            assert (await http.get(path)).status_code == status
