"""The benchmark: its Chat stand-in checks what botkit sends as the sandbox does, and `bench/run.py
--quick` runs every phase end to end and writes every result the README promises.

The numbers of a quick run mean nothing (a second of load, a few messages); it proves the
benchmark still runs against today's botkit, so a full run is one command away.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botkit.elements import text_body
from botkit.errors import ChatAPIError
from botkit.restapi import ChatClient
from botkit.usersig import UserSigCache
from sandbox.harness import InProcessSandbox
from tests.support import ADMIN, KEY, SDKAPPID

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
KEYS = {
    "ceiling_rps",
    "botkit_rps",
    "peer_rps",
    "botkit_ratio",
    "peer_ratio",
    "ack_p50_ms",
    "ack_p99_ms",
    "overhead_p50_ms",
    "in_flight",
    "answering_rps",
    "answering_p99_ms",
    "answered",
    "drain_s",
    "drain_left",
    "recovery_s",
    "recovery_lost",
    "recovery_doubled",
    "rest_refused",
}


HI = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "a u1"}}]


@pytest.fixture
def standins(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/standins.py, imported as uvicorn imports it (with bench/ on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("standins")


@pytest.fixture
async def stand_in(standins: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh stand-ins app, in-process."""
    transport = httpx.ASGITransport(app=standins.standins())
    async with httpx.AsyncClient(transport=transport, base_url="http://standins") as http:
        yield http


def chat_client(http: httpx.AsyncClient, sdkappid: int, key: str) -> ChatClient:
    usersigs = UserSigCache(sdkappid, SecretStr(key), ADMIN)
    return ChatClient(http, api_base="http://chat.test", sdkappid=sdkappid, admin=ADMIN, usersigs=usersigs)


async def noted(http: httpx.AsyncClient) -> tuple[Any, Any]:
    """How many sendmsg the stand-in refused, and the distinct replies it noted per user."""
    stats = (await http.get("/stats", params={"prefix": "u"})).json()
    return stats["refused"], stats["distinct_replies"]


async def test_the_chat_stand_in_takes_botkits_sendmsg_and_notes_the_reply(
    standins: ModuleType, stand_in: httpx.AsyncClient
) -> None:
    chat = chat_client(stand_in, standins.SDKAPPID, standins.KEY)

    result = await chat.send_c2c("@RBT#001", "u1", text_body("a u1"), msg_random=7, msg_seq=3)

    assert result.msg_key.startswith("3_7_")
    assert await noted(stand_in) == (0, {"u1": 1})


@pytest.mark.parametrize(
    ("key", "body", "code"),
    [
        ("another-apps-key", {"To_Account": "u1", "MsgRandom": 7, "MsgBody": HI}, 70009),
        (None, {"To_Account": "u1", "MsgRandom": "7", "MsgBody": HI}, 90005),
        (None, {"To_Account": "u1", "MsgRandom": 7, "MsgBody": HI[0]}, 90007),
        (None, {"MsgRandom": 7, "MsgBody": HI}, 90012),
    ],
    ids=["foreign-usersig", "string-random", "body-not-array", "no-recipient"],
)
async def test_the_chat_stand_in_refuses_what_the_sandbox_refuses(
    standins: ModuleType,
    stand_in: httpx.AsyncClient,
    chat_api: InProcessSandbox,
    key: str | None,
    body: dict[str, Any],
    code: int,
) -> None:
    with pytest.raises(ChatAPIError) as by_stand_in:
        await chat_client(stand_in, standins.SDKAPPID, key or standins.KEY).call("openim/sendmsg", body)
    async with httpx.AsyncClient(transport=chat_api.transport) as http:
        with pytest.raises(ChatAPIError) as by_sandbox:
            await chat_client(http, SDKAPPID, key or KEY).call("openim/sendmsg", body)

    assert by_stand_in.value.error_code == by_sandbox.value.error_code == code
    assert await noted(stand_in) == (1, {})


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk; .ci/run does)")
@pytest.mark.skipif(
    importlib.util.find_spec("slack_bolt") is None,
    reason="needs Slack Bolt, the peer (pip install 'botkit[bench]')",
)
def test_quick_run_writes_every_result(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    assert not KEYS - results.keys(), f"missing from results.json: {KEYS - results.keys()}"
    assert results["ceiling_rps"] > 0 and results["botkit_rps"] > 0 and results["peer_rps"] > 0
    errors = {name: results[name] for name in ("ceiling_errors", "ack_errors", "peer_errors")}
    assert not any(errors.values()), f"servers refused benchmark requests: {errors}"
    assert results["rest_refused"] == 0, "the Chat stand-in refused requests botkit sent"
    assert results["in_flight"] >= 1, "the model stand-in saw no answer while botkit acked"
    assert "| botkit_rps |" in done.stdout
