"""`bench/run.py --quick` runs every phase end to end and writes every result the README promises.

The numbers of a quick run mean nothing (a second of load, a few messages); this proves the
benchmark still runs against today's botkit, so a full run is one command away.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk; .ci/run does)"),
    pytest.mark.skipif(
        importlib.util.find_spec("slack_bolt") is None,
        reason="needs Slack Bolt, the peer (pip install 'botkit[bench]')",
    ),
]

ROOT = Path(__file__).resolve().parent.parent
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
    "drain_s",
    "drain_left",
    "recovery_s",
    "recovery_lost",
    "recovery_doubled",
}


def test_quick_run_writes_every_result(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
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
    assert results["in_flight"] >= 1, "the model stand-in saw no answer while botkit acked"
    assert "| botkit_rps |" in done.stdout
