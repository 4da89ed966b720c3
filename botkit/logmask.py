"""Keep UserSigs out of logs that botkit does not write itself (httpx logs every request URL at INFO)."""

from __future__ import annotations

import logging
import re

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
