"""Showing raw traffic safely: UserSigs masked, including in logs botkit does not write itself
(httpx logs every request URL at INFO), and bodies shown as JSON where they parse.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

_USERSIG_PARAM = re.compile(r"(usersig=)[^&\s\"']+", re.IGNORECASE)


def mask_usersig(text: str) -> str:
    """Replace the value of every `usersig=` query parameter with `***`."""
    return _USERSIG_PARAM.sub(r"\1***", text)


class UserSigMaskingFilter(logging.Filter):
    """Rewrites a record's message with its UserSigs masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_usersig(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_httpx_logs() -> None:
    """Attach the masking filter to httpx's logger, once per process."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, UserSigMaskingFilter) for f in logger.filters):
        logger.addFilter(UserSigMaskingFilter())


def json_or_text(content: bytes) -> Any:
    """A raw body for display: its JSON when it parses, else its text."""
    text = content.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
