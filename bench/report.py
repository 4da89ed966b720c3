"""The results table, as Markdown so it pastes into the README: each metric beside issue 8's target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[float, dict[str, Any]], bool]


def _rows() -> list[tuple[str, str, Check | None]]:
    """(metric, target, is the target met) in the order the table shows them."""
    return [
        ("ceiling_rps", "", None),
        ("botkit_rps", "≥ 0.40 of ceiling", lambda v, r: v >= 0.40 * r["ceiling_rps"]),
        ("peer_rps", "", None),
        (
            "botkit_ratio",
            "≥ 0.40 and ≥ 3 times peer_ratio",
            lambda v, r: v >= 0.40 and v >= 3 * r["peer_ratio"],
        ),
        ("peer_ratio", "", None),
        ("ack_p50_ms", "", None),
        ("ack_p99_ms", "< 20", lambda v, r: v < 20),
        ("in_flight", "≥ 2,000", lambda v, r: v >= 2000),
        ("answering_rps", "", None),
        ("answering_ratio", "", None),
        ("answering_p99_ms", "", None),
        ("answered", "", None),
        ("overhead_p50_ms", "< 2", lambda v, r: v < 2),
        ("drain_s", "< 10", lambda v, r: v < 10),
        ("recovery_s", "< 30", lambda v, r: v < 30),
        ("recovery_lost", "0", lambda v, r: v == 0),
        ("recovery_doubled", "0", lambda v, r: v == 0),
    ]


def _value(name: str, results: dict[str, Any]) -> str:
    value = results[name]
    if value is None:
        left = {
            "drain_s": f"{results['drain_left']:,} left",
            "recovery_s": f"{results['recovery_lost']:,} of {results['recovery_unfinished']:,} unanswered",
            "overhead_p50_ms": "no answer",
        }[name]
        return f"timeout ({results['wait_s']:g} s): {left}"
    if name.endswith("_ratio"):
        return f"{value:.2f}"
    if isinstance(value, int) or value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.3g}"


def table(results: dict[str, Any]) -> str:
    lines = ["| metric | value | target | met |", "|---|---|---|---|"]
    for name, target, check in _rows():
        value = results[name]
        met = "" if check is None else ("no" if value is None or not check(value, results) else "yes")
        lines.append(f"| {name} | {_value(name, results)} | {target} | {met} |")
    return "\n".join(lines)
