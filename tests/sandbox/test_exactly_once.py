"""Exactly one reply per message while the sandbox misbehaves: REST calls fail, callbacks repeat."""

from __future__ import annotations

import json
import random
from collections import Counter

from botkit.app import create_app
from botkit.config import Settings
from botkit.elements import body_text
from botkit.lab.waiting import await_until
from sandbox.faults import Faults
from sandbox.harness import InProcessSandbox

DEADLINE_SECONDS = 60.0


def robot_texts(local: InProcessSandbox, users: list[str]) -> Counter[str]:
    """Every text the robot wrote, in one-to-one chats with `users` and in the demo group."""
    texts: Counter[str] = Counter()
    for user in users:
        history = local.state.c2c_history(user, local.robot)
        texts.update(body_text(r.body) for r in history if r.from_account == local.robot)
    texts.update(
        body_text(r.body)
        for r in local.state.group_history(local.group, limit=1000)
        if r.from_account == local.robot
    )
    return texts


async def test_a_fifth_of_rest_calls_failing_and_a_tenth_of_callbacks_doubled_still_get_one_reply_each(
    botkit_settings: Settings,
) -> None:
    local = InProcessSandbox(botkit_settings, rng=random.Random(20))
    users = [f"user{n:02}" for n in range(30)]
    for user in users:
        local.add_user(user)
    expected = [f"echo: {user} asks {n}" for n in range(3) for user in users]
    expected += [f"@{user} echo: {user} in the group" for user in users[:10]]
    try:
        async with local.running(create_app(botkit_settings, transport=local.transport)):
            local.backend.faults = Faults(rest_failure_rate=0.2, rest_failure_code=60008, duplicate_rate=0.1)
            for n in range(3):
                for user in users:
                    local.send_c2c(user, local.robot, f"{user} asks {n}")
            for user in users[:10]:
                local.send_group(user, f"{user} in the group")

            async def all_answered() -> Counter[str] | None:
                await local.settle()  # retries that fell due later are answered on the way
                texts = robot_texts(local, users)
                return texts if set(expected) <= set(texts) else None

            texts = await await_until(
                all_answered,
                timeout=DEADLINE_SECONDS,
                failure="some messages were not answered",
                interval=0.1,
            )
            failed = [e for e in local.rest_calls("openim/sendmsg") if e.response.get("ErrorCode") == 60008]
            deliveries = Counter(json.dumps(e.request, sort_keys=True) for e in local.callbacks())
    finally:
        local.close()

    assert sorted(texts.elements()) == sorted(expected)  # each exactly once, nothing else
    assert failed, "the faults were on: some sends failed and were retried"
    assert max(deliveries.values()) > 1, "the faults were on: some callbacks came twice"
