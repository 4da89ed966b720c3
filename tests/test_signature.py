"""Callback Sign/RequestTime: protocol.md §1.2 vectors, forgeries, missing parts and the replay window."""

from __future__ import annotations

import pytest

from botkit.errors import CallbackError
from botkit.signature import REPLAY_WINDOW_SECONDS, sign_callback, verify_callback

TOKEN = "example-token"
NOW = 1700000000


def _clock(now: float = NOW):
    return lambda: now


@pytest.mark.parametrize(
    ("token", "request_time", "sign"),
    [
        ("xxxxyyyy", "1669872112", "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"),
        ("example-token", "1700000000", "7538b0983b8e100fc6d802a83bd847a1b757ee983e909b099b628853871e2ab5"),
    ],
)
def test_sign_matches_protocol_vectors(token: str, request_time: str, sign: str) -> None:
    assert sign_callback(token, request_time) == sign


@pytest.mark.parametrize(
    ("token", "request_time", "sign"),
    [
        ("xxxxyyyy", "1669872112", "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"),
        ("example-token", "1700000000", "7538b0983b8e100fc6d802a83bd847a1b757ee983e909b099b628853871e2ab5"),
    ],
)
def test_verify_accepts_protocol_vectors(token: str, request_time: str, sign: str) -> None:
    verify_callback(token, sign, request_time, clock=_clock(int(request_time)))


def test_sign_is_64_lowercase_hex() -> None:
    sign = sign_callback(TOKEN, str(NOW))

    assert len(sign) == 64
    assert sign == sign.lower()
    int(sign, 16)


def test_verify_accepts_upper_case_hex_sign() -> None:
    verify_callback(TOKEN, sign_callback(TOKEN, str(NOW)).upper(), str(NOW), clock=_clock())


@pytest.mark.parametrize("offset", [-59, -1, 0, 1, 59, REPLAY_WINDOW_SECONDS, -REPLAY_WINDOW_SECONDS])
def test_verify_accepts_within_replay_window(offset: int) -> None:
    request_time = str(NOW)

    verify_callback(TOKEN, sign_callback(TOKEN, request_time), request_time, clock=_clock(NOW + offset))


@pytest.mark.parametrize("offset", [61, -61, 3600, -3600])
def test_verify_rejects_stale_or_future_request_time(offset: int) -> None:
    request_time = str(NOW)

    with pytest.raises(CallbackError) as caught:
        verify_callback(TOKEN, sign_callback(TOKEN, request_time), request_time, clock=_clock(NOW + offset))

    assert caught.value.status == 403
    assert "RequestTime" in caught.value.reason


def test_window_argument_is_honoured() -> None:
    request_time = str(NOW)
    sign = sign_callback(TOKEN, request_time)

    verify_callback(TOKEN, sign, request_time, clock=_clock(NOW + 300), window=300)
    with pytest.raises(CallbackError):
        verify_callback(TOKEN, sign, request_time, clock=_clock(NOW + 11), window=10)


GOOD_SIGN = sign_callback(TOKEN, str(NOW))


@pytest.mark.parametrize(
    ("sign", "request_time", "reason_part"),
    [
        (sign_callback("other-token", str(NOW)), str(NOW), "Sign"),
        (sign_callback(TOKEN, str(NOW + 1)), str(NOW), "Sign"),
        ("0" * 64, str(NOW), "Sign"),
        (GOOD_SIGN[:-1], str(NOW), "Sign"),
        (GOOD_SIGN + "0", str(NOW), "Sign"),
        ("not-hex-at-all", str(NOW), "Sign"),
        (GOOD_SIGN, str(NOW + 1), "Sign"),
        (None, str(NOW), "Sign"),
        ("", str(NOW), "Sign"),
        (GOOD_SIGN, None, "RequestTime"),
        (GOOD_SIGN, "", "RequestTime"),
        (None, None, "Sign"),
        (GOOD_SIGN, "abc", "RequestTime"),
        (GOOD_SIGN, "-1700000000", "RequestTime"),
        (GOOD_SIGN, "1700000000.0", "RequestTime"),
        (GOOD_SIGN, " 1700000000", "RequestTime"),
        (GOOD_SIGN, "1700000000000", "RequestTime"),
    ],
)
def test_verify_rejects_with_403(sign: str | None, request_time: str | None, reason_part: str) -> None:
    with pytest.raises(CallbackError) as caught:
        verify_callback(TOKEN, sign, request_time, clock=_clock())

    assert caught.value.status == 403
    assert reason_part in caught.value.reason


def test_rejection_does_not_reveal_token_or_expected_sign() -> None:
    with pytest.raises(CallbackError) as caught:
        verify_callback(TOKEN, "0" * 64, str(NOW), clock=_clock())

    assert TOKEN not in str(caught.value)
    assert GOOD_SIGN not in str(caught.value)


@pytest.mark.parametrize("request_time", ["²", "1700000000²", "①", "9" * 400, "9" * 5000])
def test_verify_rejects_non_ascii_digit_or_absurd_request_time(request_time: str) -> None:
    with pytest.raises(CallbackError) as caught:
        verify_callback(TOKEN, GOOD_SIGN, request_time, clock=_clock())

    assert caught.value.status == 403
