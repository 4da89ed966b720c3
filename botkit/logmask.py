"""The one scrubber for text leaving the process: logs, stored errors, the traffic log, reprs.

`scrub(text)` masks what is secret wherever it shows: UserSigs (as a `usersig=` parameter, raw or
URL-quoted, or as a bare token), callback `Sign`s, bearer tokens, passwords in URLs, and every
secret registered with `register_secrets` (raw, URL-quoted, or cut short to 8 characters or more).
`install_log_scrubber()` applies it to every record of botkit's, the sandbox's, httpx's and
uvicorn's loggers and escapes control characters there, so a newline in a field that came from
outside cannot forge a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_PREFIX = 8
"""A secret cut to this many characters or more is still masked; shorter secrets only whole."""
MIN_SECRET = 6
"""Shorter "secrets" (a test's key "k") are not masked: doing so would mask every such letter."""
LOGGERS = frozenset({"botkit", "sandbox", "httpx", "httpcore", "uvicorn"})
"""Loggers (and their children) whose records are scrubbed."""

_TOKEN_TAIL = r"[^\s\"'&,;<>()\[\]{}\\]*"
_PATTERNS = [
    # usersig=… and Sign=… in a URL, also when the URL itself was URL-quoted.
    (re.compile(r"(?<![a-z0-9_])((?:usersig|sign)(?:=|%3D))[^&\s\"'<>]+", re.IGNORECASE), r"\1" + MASK),
    # A UserSig anywhere: base64 of zlib data, with Tencent's *-_ alphabet.
    (re.compile(r"eJ[wxyz][A-Za-z0-9*\-_%]{20,}"), MASK),
    (re.compile(r"(bearer\s+)[^\s\"']+", re.IGNORECASE), r"\1" + MASK),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"([a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE), r"\1" + MASK + "@"),
]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class Scrubber:
    """Masks the fixed patterns above plus the secrets it has been given."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        new = {secret for secret in secrets if len(secret) >= MIN_SECRET} - self._secrets
        if not new:
            return
        self._secrets |= new
        forms = {form for secret in self._secrets for form in _forms(secret)}
        # Longest first, so a whole secret is masked before one of its shorter forms can match.
        alternatives = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(alternatives))

    def __call__(self, text: str) -> str:
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return text


def _forms(secret: str) -> list[str]:
    """Regexes for a secret as it may show: raw, URL-quoted, form-quoted, or only its start."""
    forms = []
    for shown in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret))):
        if len(shown) > MIN_PREFIX:
            forms.append(re.escape(shown[:MIN_PREFIX]) + _TOKEN_TAIL)
        else:
            forms.append(r"(?<![A-Za-z0-9])" + re.escape(shown) + r"(?![A-Za-z0-9])")
    return forms


def _process_scrubber() -> Scrubber:
    """The scrubber of this process's log records, put in place on first use."""
    return _factory().scrubber


def register_secrets(secrets: Iterable[str]) -> None:
    """Mask these too, from now on, in `scrub()` and every log record of the scrubbed loggers."""
    _process_scrubber().add(secrets)


def scrub(text: str, *, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret masked: the fixed patterns, registered secrets and `secrets`."""
    text = _process_scrubber()(text)
    extra = [secret for secret in secrets if len(secret) >= MIN_SECRET]
    return Scrubber(extra)(text) if extra else text


def escape_controls(text: str) -> str:
    """Newlines and other control characters as `\\n`, `\\x1b`, `\\u2028`: one record, one line."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class _ScrubbingRecords:
    """The log record factory, wrapped: records of the scrubbed loggers come out scrubbed and on
    one line, traceback text included, whichever logger or handler (or pytest's caplog) takes them.

    A factory rather than a `logging.Filter`: a logger's filters miss records of its children,
    and loggers are created at any time.
    """

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner
        self.scrubber = Scrubber()
        self._formatter = logging.Formatter()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        if record.name.split(".")[0] in LOGGERS:
            self._clean(record)
        return record

    def _clean(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        cleaned = escape_controls(self.scrubber(message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            record.exc_text = self.scrubber(self._formatter.formatException(record.exc_info))


def _factory() -> _ScrubbingRecords:
    """The scrubbing factory of this process, put in place on first use."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _ScrubbingRecords):
        return current
    installed = _ScrubbingRecords(current)
    logging.setLogRecordFactory(installed)
    return installed


def install_log_scrubber(secrets: Iterable[str] = ()) -> None:
    """Scrub every record of botkit's, the sandbox's, httpx's and uvicorn's loggers (idempotent),
    masking `secrets` too from now on."""
    _factory().scrubber.add(secrets)
