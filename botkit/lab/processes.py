"""Child processes for the sandbox, the tests and the bench: a free port and one process manager.

A `ChildProcess` keeps the last lines its child printed, hands each to `on_line`, waits for it to be
ready (failing at once, with its output, if it dies first) and stops it: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from botkit.lab.waiting import wait_until

T = TypeVar("T")

STOP_SECONDS = 15.0
OUTPUT_LINES = 500


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (another process could still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class ChildExited(RuntimeError):
    """A child process exited before it was ready; the message ends with what it printed."""


class ChildProcess:
    """`command` as a child, with `env` added to this process's environment and stdin closed.

    Output (stdout and stderr) is read line by line: the last `keep` lines stay for `output()`, and
    each goes to `on_line`. `on_exit(code)` is called when the child exits without `stop()` asking it
    to. With `own_session` the child leads its own process group, so `stop()` can kill all of it.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        on_line: Callable[[str], None] = lambda line: None,
        on_exit: Callable[[int], None] = lambda code: None,
        keep: int = OUTPUT_LINES,
        own_session: bool = False,
    ) -> None:
        self.name = name
        self.command = list(command)
        self._env = dict(env or {})
        self._cwd = cwd
        self._on_line = on_line
        self._on_exit = on_exit
        self._own_session = own_session
        self._lines: deque[str] = deque(maxlen=keep)
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False

    def __repr__(self) -> str:
        return f"ChildProcess({self.name!r}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def exit_code(self) -> int | None:
        """None while it runs (or before it started)."""
        return self._process.poll() if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def lines(self) -> list[str]:
        """The last lines it printed, oldest first."""
        return list(self._lines)

    def output(self) -> str:
        return "\n".join(self._lines)

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError(f"{self.name} was already started")
        self._process = subprocess.Popen(
            self.command,
            env=os.environ | {"PYTHONUNBUFFERED": "1"} | self._env,
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=self._own_session,
        )
        self._reader = threading.Thread(
            target=self._read, args=(self._process,), name=f"{self.name} output", daemon=True
        )
        self._reader.start()

    def wait_until(self, probe: Callable[[], T | None], *, timeout: float, failure: str) -> T:
        """`probe()`'s first answer while the child runs: `ChildExited` at once if it exits, and
        `TimeoutError` after `timeout` s; either message ends with the child's output."""
        return wait_until(
            probe,
            timeout=timeout,
            failure=failure,
            check=self._check_running,
            explain=self._output_block,
        )

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM, then SIGKILL (its whole group with `own_session`) after `timeout` s; idempotent."""
        self._stopping = True
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                if self._own_session:
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
                process.wait()
        self._join_reader(timeout)

    def _check_running(self) -> None:
        code = self.exit_code
        if code is not None:
            self._join_reader(STOP_SECONDS)  # all it printed is in the message
            raise ChildExited(f"{self.name} exited with code {code}{self._output_block()}")

    def _output_block(self) -> str:
        return f"\n--- output of {self.name} ---\n{self.output()}"

    def _join_reader(self, timeout: float) -> None:
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None, "started with stdout=PIPE"
        with process.stdout:
            for raw in process.stdout:
                line = raw.rstrip("\n")
                self._lines.append(line)
                self._on_line(line)
        code = process.wait()
        if not self._stopping:
            self._on_exit(code)
