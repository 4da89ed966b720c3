"""A recorded session: robot callbacks and REST calls as JSON lines, secrets removed, and its replay.

The sandbox writes one `RecordedCall` per line: each callback it sent (query without `Sign` and
`RequestTime`) and each REST call it answered (query without `usersig`). Replaying re-signs every
callback with the current token and time, so a file recorded last week passes the replay window.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from botkit.callbacks import callback_url
from botkit.errors import ConfigError

SECRET_NAMES = frozenset({"sign", "requesttime", "usersig", "token", "callback_token", "key", "secret"})
"""Query parameters and body keys dropped from a recording (compared in lower case)."""


class RecordedCall(BaseModel):
    """One line of a recording. `command` is the `CallbackCommand` or the REST "service/command"."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["callback", "rest"]
    time: float
    command: str
    query: dict[str, str]
    body: Any
    response: Any = None


def redacted(value: Any) -> Any:
    """`value` with every key named in `SECRET_NAMES` left out, at any depth."""
    if isinstance(value, Mapping):
        return {k: redacted(v) for k, v in value.items() if str(k).lower() not in SECRET_NAMES}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


def json_or_text(content: bytes) -> Any:
    """A raw body as it is recorded and shown: its JSON when it parses, else its text."""
    text = content.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def recorded(
    kind: Literal["callback", "rest"],
    command: str,
    query: Mapping[str, str],
    body: Any,
    *,
    response: Any = None,
    at: float,
) -> RecordedCall:
    """A `RecordedCall` with the secrets taken out of query, body and response."""
    return RecordedCall(
        kind=kind,
        time=at,
        command=command,
        query=redacted(dict(query)),
        body=redacted(body),
        response=redacted(response),
    )


def dump_lines(calls: Iterable[RecordedCall]) -> str:
    return "".join(call.model_dump_json() + "\n" for call in calls)


def load_lines(text: str, *, source: str = "recording") -> list[RecordedCall]:
    """Parse JSON lines (blank lines skipped); a bad line is a `ConfigError` naming its number."""
    calls = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            calls.append(RecordedCall.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]
            raise ConfigError(f"{source} line {number} is not a recorded call: {problem['msg']}") from None
    return calls


def read_recording(path: Path) -> list[RecordedCall]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the recording {path}: {exc.strerror}") from None
    return load_lines(text, source=str(path))


@dataclass(frozen=True)
class Replayed:
    """What a webhook answered to one replayed callback; `status` is None when it did not answer."""

    call: RecordedCall
    status: int | None
    answer: Any
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


async def replay_callbacks(
    calls: Iterable[RecordedCall],
    client: httpx.AsyncClient,
    url: str,
    *,
    token: str | None,
    sdkappid: int | None = None,
    clock: Callable[[], float] = time.time,
) -> list[Replayed]:
    """POST each recorded callback to `url`, in order, signed with `token` at `clock()` time."""
    results = []
    for call in calls:
        if call.kind != "callback":
            continue
        query = call.query | {"CallbackCommand": call.command}
        if sdkappid is not None:
            query["SdkAppid"] = str(sdkappid)
        target = callback_url(url, query, token=token or None, request_time=int(clock()))
        content = json.dumps(call.body, ensure_ascii=False).encode("utf-8")
        try:
            reply = await client.post(target, content=content, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            results.append(Replayed(call, None, None, f"{type(exc).__name__}: {exc}"))
            continue
        try:
            answer: Any = reply.json()
        except ValueError:
            answer = reply.text
        results.append(Replayed(call, reply.status_code, answer))
    return results
