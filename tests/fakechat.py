"""A scripted stand-in for the Chat REST API, as an httpx.MockTransport handler that records calls."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class RecordedCall:
    command: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeChat:
    """Answers every command with success (plus sendmsg/send_group_msg fields), or scripted error codes."""

    calls: list[RecordedCall] = field(default_factory=list)
    errors: dict[str, list[int]] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail(self, command: str, *codes: int) -> None:
        """Answer the next calls of `command` with these ErrorCodes, in order."""
        self.errors.setdefault(command, []).extend(codes)

    def sent(self, command: str) -> list[dict[str, Any]]:
        return [call.body for call in self.calls if call.command == command]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        command = request.url.path.removeprefix("/v4/")
        body = json.loads(request.content or b"{}")
        self.calls.append(RecordedCall(command, dict(request.url.params), body))
        pending = self.errors.get(command)
        if pending:
            code = pending.pop(0)
            return httpx.Response(
                200, json={"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": f"scripted {code}"}
            )
        answer: dict[str, Any] = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
        if command == "openim/sendmsg":
            answer |= {"MsgTime": 1700000101, "MsgKey": f"{body['MsgSeq']}_{body['MsgRandom']}_1700000101"}
        if command == "group_open_http_svc/send_group_msg":
            answer |= {"MsgTime": 1700000201, "MsgSeq": next(self._seq), "MsgDropReason": ""}
        return httpx.Response(200, json=answer)
