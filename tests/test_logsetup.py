"""Log lines for operators: JSON on request, and floods of one kind cut to one line per interval."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from botkit.logsetup import JsonFormatter, RateLimitFilter
from tests.support import FakeClock


def record(
    msg: str, *args: object, name: str = "botkit.webhook", level: int = logging.WARNING
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_one_record_of_a_kind_per_interval_and_then_the_count_held_back() -> None:
    clock = FakeClock(1000.0)
    limiter = RateLimitFilter(10.0, clock=clock)
    template = "refused callback from %s: %s"

    passed = [limiter.filter(record(template, f"10.0.0.{n}", "403: bad Sign")) for n in range(500)]
    other = limiter.filter(record("cannot journal %s", "c2c:1"))
    clock.now += 10.0
    later = record(template, "10.0.0.9", "400: empty body")
    let_through = limiter.filter(later)

    assert passed == [True] + [False] * 499
    assert other is True
    assert let_through is True
    assert later.getMessage() == (
        "refused callback from 10.0.0.9: 400: empty body"
        " (and 499 more like it in the 10 s before, not logged)"
    )


def test_records_of_another_logger_or_level_are_another_kind() -> None:
    limiter = RateLimitFilter(10.0, clock=FakeClock(1000.0))

    assert limiter.filter(record("x %s", 1)) is True
    assert limiter.filter(record("x %s", 2, name="botkit.serving")) is True
    assert limiter.filter(record("x %s", 3, level=logging.ERROR)) is True
    assert limiter.filter(record("x %s", 4)) is False


def test_json_lines_carry_level_logger_message_and_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        line = record("cannot journal %s", 'c2c:"1"\nforged', level=logging.ERROR)
        line.exc_info = sys.exc_info()

    parsed = json.loads(JsonFormatter().format(line))

    assert parsed["level"] == "ERROR"
    assert parsed["logger"] == "botkit.webhook"
    assert parsed["message"] == 'cannot journal c2c:"1"\nforged'
    assert parsed["exception"].startswith("Traceback") and "ValueError: boom" in parsed["exception"]
    assert parsed["time"].endswith("+00:00")
    assert "\n" not in JsonFormatter().format(line)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_botkit_log_format_picks_the_formatter(log_format: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from botkit.cli import configure_logging

    handler = logging.StreamHandler()
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])

    configure_logging("INFO", log_format)

    assert isinstance(handler.formatter, JsonFormatter) is (log_format == "json")
