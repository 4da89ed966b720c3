"""The traffic log: bounded, newest first, usersig masked, safe across threads."""

from __future__ import annotations

import threading

import pytest

from botkit import scrub
from sandbox.traffic import TrafficLog


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "http://x/v4/a/b?sdkappid=1&usersig=eJw*secret&random=2",
            "http://x/v4/a/b?sdkappid=1&usersig=***&random=2",
        ),
        ("http://x/v4/a/b?usersig=eJw-secret", "http://x/v4/a/b?usersig=***"),
        # A Sign can be replayed for 60 s with any body: masked too.
        ("http://x/im?SdkAppid=1&Sign=abc&RequestTime=1", "http://x/im?SdkAppid=1&Sign=***&RequestTime=1"),
        ("http://x/im?SdkAppid=1&design=abc", "http://x/im?SdkAppid=1&design=abc"),
    ],
)
def test_usersig_is_masked(url: str, masked: str) -> None:
    assert scrub(url) == masked
    log = TrafficLog()
    assert log.record("rest", method="POST", url=url, request={}).url == masked


def test_the_log_keeps_the_newest_entries_up_to_its_capacity() -> None:
    log = TrafficLog(capacity=3, clock=lambda: 42.0)
    for index in range(5):
        log.record("callback" if index % 2 else "rest", method="POST", url=f"/{index}", request={"n": index})
    assert [entry.url for entry in log.list()] == ["/4", "/3", "/2"]
    assert [entry.url for entry in log.list(newest_first=False, kind="rest")] == ["/2", "/4"]
    assert log.version == 5
    assert log.list()[0].time == 42.0


def test_records_from_many_threads_are_all_counted() -> None:
    log = TrafficLog(capacity=1000)

    def write() -> None:
        for _ in range(100):
            log.record("rest", method="POST", url="/", request=None)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.version == 400
    assert sorted(entry.id for entry in log.list()) == list(range(1, 401))
