"""The remote services the measured bots talk to, faked in one uvicorn process on loopback.

`POST /v4/openim/sendmsg` is the Chat REST API answering at once; `POST /v1/chat/completions` is
an OpenAI-compatible model answering after `BENCH_MODEL_DELAY` seconds (default 1.5), and
`POST /hold/v1/chat/completions` one that holds each call until its client goes away;
`/slack-api/auth.test` answers the Slack peer's one Web API call. The first two note
what the benchmark measures: when each user's first reply arrived, how many distinct replies each
user got once repeats are dropped as Tencent drops them (same sender, MsgSeq, MsgRandom and text),
how long each model call took, and how many model calls were held at once. `GET /stats?prefix=P`
reads that back for the users whose name starts with P (the counts alone without a prefix),
looking only at users whose leading letters start with P, so polling it stays cheap however many
users earlier phases made up;
`POST /reset` restarts the count of model calls held at once. Plain ASGI, so the stand-ins cost
as little CPU as they can.

A sendmsg passes the sandbox's own checks of the URL, the UserSig and each field the sandbox
reads, with Tencent's codes, or is refused and counted (`refused` in the stats), not noted as a
reply. The sandbox itself is not the stand-in: it keeps every message in SQLite and knows only
the accounts imported into it, so it answers in about 0.4 ms, where this answers in tens of µs
to users the load makes up as it goes.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from apps import KEY, SDKAPPID
from pydantic import SecretStr

from botkit.callbacks import ACK_BODY
from botkit.errorcodes import ErrorCode
from botkit.restmodels import Envelope
from sandbox import fields
from sandbox.app import check_url, parse_body
from sandbox.errorcodes import SandboxError
from sandbox.models import SandboxConfig

Scope = dict[str, Any]
CHAT_APP = SandboxConfig(sdkappid=SDKAPPID, key=SecretStr(KEY))
SLACK_AUTH_TEST = {"ok": True, "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT", "team": "bench"}
Reply = tuple[str, int, int, str]
HOLD_SECONDS = 3600.0
"""The held model's delay: longer than any run, so a call ends when its client does."""


@dataclass
class Record:
    """What the stand-ins saw, keyed by user (each benchmark message comes from its own user)."""

    model_delay: float
    groups: dict[str, set[str]] = field(default_factory=dict)  # users by their leading letters
    first_reply: dict[str, float] = field(default_factory=dict)
    replies: dict[str, set[Reply]] = field(default_factory=dict)
    model_seconds: dict[str, float] = field(default_factory=dict)
    holding: set[str] = field(default_factory=set)
    max_held: int = 0
    refused: int = 0
    sent: int = 0  # replies, repeats included

    def stats(self, prefix: str | None) -> dict[str, Any]:
        """Model calls held now by users named PREFIX…, the most held at once since the last reset,
        and (given a prefix) those users' replies and model times."""
        held = sum(1 for user in self.holding if user.startswith(prefix or ""))
        stats: dict[str, Any] = {
            "held": held, "max_held": self.max_held, "refused": self.refused, "sent": self.sent
        }  # fmt: skip
        if prefix is None:
            return stats
        groups = [users for group, users in self.groups.items() if group.startswith(prefix)]
        users = [user for group in groups for user in group if user.startswith(prefix)]
        return stats | {
            "first_reply": {u: self.first_reply[u] for u in users if u in self.first_reply},
            "distinct_replies": {u: len(self.replies[u]) for u in users if u in self.replies},
            "model_seconds": {u: self.model_seconds[u] for u in users if u in self.model_seconds},
        }

    def saw(self, user: str) -> None:
        self.groups.setdefault(user.rstrip("0123456789"), set()).add(user)


async def read_body(receive: Any) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def respond(send: Any, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def check_sendmsg(query: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """A sendmsg request as the sandbox checks it, but for the accounts existing; `SandboxError` if not."""
    check_url(query, CHAT_APP, clock=time.time)
    body = parse_body(raw)
    fields.text(body, "To_Account", ErrorCode.TO_ACCOUNT_INVALID)
    fields.integer(body, "MsgRandom", ErrorCode.MSGRANDOM_INVALID)
    fields.msg_body(body)
    fields.optional_text(body, "From_Account", ErrorCode.FROM_ACCOUNT_INVALID)
    fields.optional_integer(body, "MsgSeq", ErrorCode.MSG_FIELD_INVALID)
    fields.optional_integer(body, "SyncOtherMachine", ErrorCode.MSG_FIELD_INVALID, low=1, high=2)
    return body


def sendmsg(record: Record, query: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """Note one reply and answer as Tencent does: OK, with the new message's MsgKey; or refuse it."""
    try:
        body = check_sendmsg(query, raw)
    except SandboxError as refusal:
        record.refused += 1
        return refusal.envelope()
    user = str(body["To_Account"])
    text = json.dumps(body["MsgBody"], sort_keys=True)
    seq, random = int(body.get("MsgSeq", 0)), int(body["MsgRandom"])
    if not body.get("OnlineOnlyFlag"):  # an online-only signal ("typing…") is no reply
        record.saw(user)
        record.sent += 1
        record.first_reply.setdefault(user, time.monotonic())
        record.replies.setdefault(user, set()).add((str(body.get("From_Account")), seq, random, text))
    now = int(time.time())
    return Envelope.ok({"MsgTime": now, "MsgKey": f"{seq}_{random}_{now}"}).to_wire()


async def complete(record: Record, body: dict[str, Any], delay: float) -> dict[str, Any]:
    """Answer "a USER" to the question "q USER" after `delay`, counting calls held at once."""
    started = time.monotonic()
    question = str(body["messages"][-1]["content"])
    user = question.removeprefix("q ")
    record.saw(user)
    record.holding.add(user)
    record.max_held = max(record.max_held, len(record.holding))
    try:
        await asyncio.sleep(delay)
    finally:
        record.holding.discard(user)
    record.model_seconds[user] = time.monotonic() - started
    message = {"role": "assistant", "content": f"a {user}"}
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def standins() -> Any:
    """The ASGI app (a uvicorn `--factory`), with its own record."""
    record = Record(model_delay=float(os.environ.get("BENCH_MODEL_DELAY", "1.5")))

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        body = await read_body(receive)
        if path == "/v4/openim/sendmsg":
            await respond(send, sendmsg(record, dict(parse_qsl(scope["query_string"].decode())), body))
        elif path == "/hold/v1/chat/completions":
            await respond(send, await complete(record, json.loads(body), HOLD_SECONDS))
        elif path.endswith("/chat/completions"):
            await respond(send, await complete(record, json.loads(body), record.model_delay))
        elif path == "/slack-api/auth.test":
            await respond(send, SLACK_AUTH_TEST)
        elif path == "/stats":
            prefix = parse_qs(scope["query_string"].decode()).get("prefix", [None])[0]
            await respond(send, record.stats(prefix))
        elif path == "/reset":
            record.max_held = len(record.holding)
            await respond(send, record.stats(None))
        else:
            await respond(send, ACK_BODY)

    return app
