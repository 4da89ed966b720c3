"""The one process manager: output kept, readiness that fails fast with it, a stop that always ends."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

from botkit.lab.processes import ChildExited, ChildProcess, free_port
from botkit.lab.waiting import wait_until


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_free_port_gives_a_port_that_can_be_listened_on() -> None:
    port = free_port()

    with socket.create_server(("127.0.0.1", port)):
        pass


def test_a_child_that_dies_before_it_is_ready_fails_the_wait_at_once_with_its_output() -> None:
    child = ChildProcess("the tool", python("import sys; print('no config'); sys.exit(3)"))
    child.start()

    with pytest.raises(ChildExited) as caught:
        child.wait_until(lambda: None, timeout=60, failure="the tool was not ready")

    assert str(caught.value) == "the tool exited with code 3\n--- output of the tool ---\nno config"
    child.stop()


def test_a_child_that_is_never_ready_times_out_with_its_output() -> None:
    child = ChildProcess("the tool", python("import time; print('starting', flush=True); time.sleep(60)"))
    child.start()
    try:
        child.wait_until(lambda: "starting" in child.output() or None, timeout=30, failure="no output")
        with pytest.raises(
            TimeoutError, match=r"the tool was not ready within 0.1 s\n--- output of the tool ---\n"
        ):
            child.wait_until(lambda: None, timeout=0.1, failure="the tool was not ready")
    finally:
        child.stop()
    assert child.exit_code is not None and not child.running


def test_env_is_added_to_the_environment_and_each_line_is_handed_on() -> None:
    seen: list[str] = []
    child = ChildProcess(
        "the tool",
        python("import os; print(os.environ['EXTRA']); print('PATH' in os.environ)"),
        env={"EXTRA": "added"},
        on_line=seen.append,
    )
    child.start()
    wait_until(lambda: child.exit_code == 0, timeout=30, failure="the tool did not finish")
    child.stop()  # and all it printed is read

    assert seen == child.lines() == ["added", "True"]


def test_an_unexpected_exit_is_reported_and_a_stop_is_not() -> None:
    exits: list[int] = []
    reported = threading.Event()

    def exited(code: int) -> None:
        exits.append(code)
        reported.set()

    crashing = ChildProcess("crashing", python("raise SystemExit(5)"), on_exit=exited)
    crashing.start()
    assert reported.wait(30)
    crashing.stop()
    stopped = ChildProcess("stopped", python("import time; time.sleep(60)"), on_exit=exited)
    stopped.start()
    stopped.stop()

    assert exits == [5]


def test_a_child_that_ignores_sigterm_is_killed_with_its_group() -> None:
    ignore_sigterm = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    child = ChildProcess(
        "stubborn", python(f"{ignore_sigterm}; print('up', flush=True); time.sleep(60)"), own_session=True
    )
    child.start()
    child.wait_until(lambda: child.lines() == ["up"], timeout=30, failure="it did not start")

    child.stop(timeout=0.2)

    assert child.exit_code is not None and child.exit_code < 0
