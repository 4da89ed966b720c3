"""Child processes of a benchmark run: the servers under test pinned to one core, the rest to the other.

Every wait has a deadline and every child is ended by the run that started it, so a run stops by
itself whatever the servers do. Each child's output goes to its own log file, shown when it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from apps import KEY, SDKAPPID, TOKEN

from botkit.lab.waiting import wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START_SECONDS = 30.0
STOP_SECONDS = 15.0


def cores() -> tuple[list[str], list[str]]:
    """taskset prefixes for (servers, load); no pinning where there are not two cores to pin to."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        print("warning: fewer than 2 cores or no taskset: servers and load share the CPU", file=sys.stderr)
        return [], []
    return ["taskset", "-c", "0"], ["taskset", "-c", "1"]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment with no stray BOTKIT_* setting, this checkout first on the path, and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env | extra


def bot_settings(standins: str, store: Path, *, held: bool = False) -> dict[str, str]:
    """The BOTKIT_* of `botkit serve` under measurement: the bench's app, the stand-ins at
    `standins` as its Chat REST API and its OpenAI-compatible model (`held`: the one that holds
    every call until the bot goes away), and a SQLite store."""
    return {
        "BOTKIT_SDKAPPID": str(SDKAPPID),
        "BOTKIT_KEY": KEY,
        "BOTKIT_CALLBACK_TOKEN": TOKEN,
        "BOTKIT_API_BASE": standins,
        "BOTKIT_LLM": "openai",
        "BOTKIT_LLM_BASE_URL": f"{standins}/hold/v1" if held else f"{standins}/v1",
        "BOTKIT_STORE": f"sqlite:///{store}",
    }


def uvicorn(target: str, port: int, *, factory: bool = False) -> list[str]:
    """The uvicorn command every measured server shares: its defaults, no access log, as `botkit serve`."""
    args = [sys.executable, "-m", "uvicorn", target, "--app-dir", str(HERE), "--host", "127.0.0.1"]
    args += ["--port", str(port), "--log-level", "info", "--no-access-log"]
    return [*args, "--factory"] if factory else args


class Child:
    """One server process, started at once and ready once its port accepts connections."""

    def __init__(self, name: str, args: list[str], port: int, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.port = port
        self.log = logs / f"{name}.log"
        with self.log.open("ab") as out:
            # cwd is the logs folder, so no .env of the caller's leaks into botkit's settings.
            self.process = subprocess.Popen(args, env=env, cwd=logs, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        try:
            wait_until(
                self._listens,
                timeout=START_SECONDS,
                failure=f"{self.name} did not listen on {self.port}",
                check=self._running,
                explain=lambda: f":\n{self.tail()}",
            )
        except TimeoutError:
            self.kill()
            raise

    def _listens(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def _running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """kill -9: no shutdown at all, as a crash."""
        self.process.kill()
        self.process.wait(STOP_SECONDS)

    def stop(self) -> None:
        """A clean stop, bounded: SIGTERM, then SIGKILL if it is still running after the grace."""
        self.process.terminate()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
