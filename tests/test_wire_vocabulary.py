"""Tencent's wire format is spelled out in botkit's wire modules only; everyone else goes through them.

A grep over botkit/, sandbox/, bench/ and the notebooks: an envelope, a callback query string, a
`GroupAtInfo` item or a `Sign` written by hand anywhere else is a second copy of the format that can
drift from the first.
Tests may still write the wire literally, as the expected value of a wire test or a malformed input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("botkit", "sandbox", "bench")
WIRE_MODULES = frozenset(
    {
        "botkit/callbacks.py",
        "botkit/elements.py",
        "botkit/errorcodes.py",
        "botkit/restmodels.py",
        "botkit/restrequests.py",
        "botkit/signature.py",
    }
)
HAND_WRITTEN = {
    "an envelope": re.compile(r"""["']ActionStatus["']\s*:"""),
    "a callback query string": re.compile(
        r"""["'](SdkAppid|RequestTime|Sign)["']\s*:|[?&](SdkAppid|RequestTime)="""
    ),
    "a GroupAtInfo item": re.compile(r"""["']GroupAt(_Account|AllFlag)["']\s*:"""),
    "a callback signature": re.compile(r"\bsign_callback\("),
}


def _sources() -> list[tuple[str, str]]:
    """Every Python file under `SCANNED` but the wire modules, and the code cells of the notebooks."""
    sources = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name not in WIRE_MODULES:
                sources.append((name, path.read_text(encoding="utf-8")))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        sources.append((path.relative_to(ROOT).as_posix(), "\n".join(code)))
    return sources


def _hand_written() -> list[str]:
    return [
        f"{name}:{number}: {what}"
        for name, text in _sources()
        for number, line in enumerate(text.splitlines(), start=1)
        for what, pattern in HAND_WRITTEN.items()
        if pattern.search(line)
    ]


def test_no_envelope_query_string_or_mention_is_written_outside_the_wire_modules() -> None:
    assert _hand_written() == []


def test_the_grep_finds_what_it_looks_for() -> None:
    samples = [
        '{"ActionStatus": "OK", "ErrorCode": 0}',
        '"/im?SdkAppid=1400000000&CallbackCommand=Bot.OnC2CMessage"',
        'query |= {"RequestTime": now}',
        '[{"GroupAtAllFlag": 0, "GroupAt_Account": "bob"}]',
        "sign_callback(token, now)",
    ]
    assert all(any(pattern.search(sample) for pattern in HAND_WRITTEN.values()) for sample in samples)
