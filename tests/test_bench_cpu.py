"""`bench/cpu.py --quick` measures both phases end to end and writes the numbers it prints.

A quick run's numbers mean nothing (a few hundred messages); this proves the measure still runs
against today's botkit, so comparing two commits stays one command each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_measures_both_phases(tmp_path: Path) -> None:
    out = tmp_path / "cpu.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cpu.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    for phase in ("ack", "answer"):
        assert 0 < results[phase]["main_thread_median_ms"] <= results[phase]["median_ms"]
    assert "| ack | per acked callback |" in done.stdout
    assert "| answer | per answered message |" in done.stdout
