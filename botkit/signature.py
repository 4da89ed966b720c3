"""Callback authentication: `Sign = sha256_hex(token + RequestTime)`, checked within a replay window.

https://cloud.tencent.com/document/product/269/32431
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from botkit.errors import CallbackError

REPLAY_WINDOW_SECONDS = 60


def sign_callback(token: str, request_time: str) -> str:
    """The `Sign` Tencent puts on a callback: plain SHA-256 (not HMAC) of token + RequestTime."""
    return hashlib.sha256((token + request_time).encode("utf-8")).hexdigest()


def verify_callback(
    token: str,
    sign: str | None,
    request_time: str | None,
    *,
    clock: Callable[[], float] = time.time,
    window: int = REPLAY_WINDOW_SECONDS,
) -> None:
    """Raise `CallbackError(403)` unless `sign` is right for `request_time` and that is fresh."""
    if not sign or not request_time:
        raise CallbackError(403, "callback is not signed: Sign and RequestTime are required")
    if not (request_time.isascii() and request_time.isdigit()) or len(request_time) > 12:
        raise CallbackError(403, "RequestTime is not a Unix time in seconds")
    if abs(clock() - int(request_time)) > window:
        raise CallbackError(403, f"RequestTime is more than {window} s away from now")
    expected = sign_callback(token, request_time)
    if not hmac.compare_digest(expected.encode(), sign.lower().encode()):
        raise CallbackError(403, "Sign does not match the callback token")
