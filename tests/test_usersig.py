"""UserSig: the protocol.md §8 vector, generate → verify, each rejection code, and the renewing cache."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from pydantic import SecretStr

from botkit.errors import UserSigError
from botkit.usersig import (
    UserSigCache,
    UserSigClaims,
    decode_usersig,
    generate_usersig,
    sig_field,
    verify_usersig,
)
from tests.support import ADMIN, SDKAPPID, FakeClock

KEY = SecretStr("botkit-example-secret-key-not-real")  # the key of the fixed signature below
T0 = 1700000000


def _encode(raw: bytes) -> str:
    """Tencent's URL-safe Base64: standard Base64 with + / = mapped to * - _."""
    text = base64.b64encode(raw).decode("ascii")
    return text.replace("+", "*").replace("/", "-").replace("=", "_")


def _make(fields: dict[str, object]) -> str:
    return _encode(zlib.compress(json.dumps(fields).encode("utf-8")))


def _signed_fields(
    *, identifier: str = ADMIN, sdkappid: int = SDKAPPID, time: int = T0, expire: int = 86400
) -> dict[str, object]:
    claims = UserSigClaims(identifier=identifier, sdkappid=sdkappid, time=time, expire=expire, version="2.0")
    return {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": time,
        "TLS.sig": sig_field(claims, KEY),
    }


def _verify(usersig: str, *, now: float = T0 + 10, identifier: str = ADMIN) -> UserSigClaims:
    return verify_usersig(usersig, sdkappid=SDKAPPID, key=KEY, identifier=identifier, clock=FakeClock(now))


def test_sig_field_matches_protocol_vector() -> None:
    claims = UserSigClaims(identifier="@RBT#001", sdkappid=SDKAPPID, time=T0, expire=86400, version="2.0")

    assert sig_field(claims, KEY) == "XjfOFvX9+PF4m6u1lfUqAhlM/YiYoDOnpR1Q7Aq3eVc="


def test_sig_field_covers_userbuf() -> None:
    plain = UserSigClaims(identifier=ADMIN, sdkappid=SDKAPPID, time=T0, expire=60, version="2.0")
    with_buf = UserSigClaims(
        identifier=ADMIN, sdkappid=SDKAPPID, time=T0, expire=60, version="2.0", userbuf="YWJj"
    )

    assert sig_field(plain, KEY) != sig_field(with_buf, KEY)


@pytest.mark.parametrize("identifier", [ADMIN, "@RBT#001", "alice"])
def test_generated_usersig_verifies(identifier: str) -> None:
    usersig = generate_usersig(SDKAPPID, KEY, identifier, 86400)
    issued = decode_usersig(usersig).time

    claims = verify_usersig(
        usersig, sdkappid=SDKAPPID, key=KEY, identifier=identifier, clock=FakeClock(issued + 1)
    )

    assert claims.identifier == identifier
    assert claims.sdkappid == SDKAPPID
    assert claims.expire == 86400


def test_usersig_uses_url_safe_alphabet() -> None:
    usersig = generate_usersig(SDKAPPID, KEY, ADMIN, 86400)

    assert not set(usersig) & set("+/=")


def test_decode_reads_fields_and_expiry() -> None:
    claims = decode_usersig(_make(_signed_fields(identifier="@RBT#001", time=T0, expire=3600)))

    assert claims == UserSigClaims(
        identifier="@RBT#001", sdkappid=SDKAPPID, time=T0, expire=3600, version="2.0", userbuf=None
    )
    assert claims.expires_at == T0 + 3600


def test_decode_keeps_userbuf() -> None:
    fields = _signed_fields() | {"TLS.userbuf": "YWJj"}

    assert decode_usersig(_make(fields)).userbuf == "YWJj"


def test_decode_does_not_check_the_signature() -> None:
    fields = _signed_fields() | {"TLS.sig": "forged"}

    assert decode_usersig(_make(fields)).identifier == ADMIN


def _without(name: str) -> str:
    fields = _signed_fields()
    del fields[name]
    return _make(fields)


MALFORMED = {
    "empty": "",
    "garbage": "this is not a usersig!",
    "non-ascii": "用户签名",
    "bad base64 padding": "eJy",
    "base64 of non-zlib": _encode(b"definitely not zlib data"),
    "zlib of non-JSON": _encode(zlib.compress(b"not json {")),
    "zlib of non-UTF-8": _encode(zlib.compress(b"\xff\xfe\xfd")),
    "JSON array": _encode(zlib.compress(b"[1, 2, 3]")),
    "JSON string": _encode(zlib.compress(b'"TLS.sig"')),
    "missing TLS.identifier": _without("TLS.identifier"),
    "missing TLS.sdkappid": _without("TLS.sdkappid"),
    "missing TLS.time": _without("TLS.time"),
    "missing TLS.expire": _without("TLS.expire"),
    "missing TLS.sig": _without("TLS.sig"),
    "non-numeric TLS.time": _make(_signed_fields() | {"TLS.time": "yesterday"}),
}


@pytest.mark.parametrize("usersig", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_usersig_is_70003(usersig: str) -> None:
    with pytest.raises(UserSigError) as verify_caught:
        _verify(usersig)
    with pytest.raises(UserSigError) as decode_caught:
        decode_usersig(usersig)

    assert verify_caught.value.error_code == 70003
    assert decode_caught.value.error_code == 70003


OTHER_KEY = SecretStr("another-apps-secret-key")


@pytest.mark.parametrize(
    ("usersig", "now", "code"),
    [
        (_make(_signed_fields(sdkappid=1400000001)), T0 + 10, 70014),
        (_make(_signed_fields(identifier="alice")), T0 + 10, 70013),
        (_make(_signed_fields() | {"TLS.sig": "AAAA"}), T0 + 10, 70009),
        (_make(_signed_fields() | {"TLS.expire": 86401}), T0 + 10, 70009),
        (_make(_signed_fields() | {"TLS.time": T0 + 1}), T0 + 10, 70009),
        (generate_usersig(SDKAPPID, OTHER_KEY, ADMIN, 86400), None, 70009),
        (_make(_signed_fields(expire=60)), T0 + 60, 70001),
        (_make(_signed_fields(expire=60)), T0 + 3600, 70001),
        # the order of protocol.md §8: app before identifier before signature before expiry
        (_make(_signed_fields(sdkappid=1, identifier="alice")), T0 + 10, 70014),
        (_make(_signed_fields(identifier="alice") | {"TLS.sig": "AAAA"}), T0 + 10, 70013),
        (_make(_signed_fields(expire=60) | {"TLS.sig": "AAAA"}), T0 + 3600, 70009),
    ],
)
def test_verify_rejection_codes(usersig: str, now: float | None, code: int) -> None:
    clock_now = now if now is not None else decode_usersig(usersig).time + 1

    with pytest.raises(UserSigError) as caught:
        _verify(usersig, now=clock_now)

    assert caught.value.error_code == code


@pytest.mark.parametrize("offset", [0, 1, 59])
def test_verify_accepts_until_expiry(offset: int) -> None:
    claims = _verify(_make(_signed_fields(expire=60)), now=T0 + offset)

    assert claims.expires_at == T0 + 60


def test_rejection_does_not_reveal_key_or_usersig() -> None:
    usersig = _make(_signed_fields(expire=60))

    with pytest.raises(UserSigError) as caught:
        _verify(usersig, now=T0 + 3600)

    assert KEY.get_secret_value() not in str(caught.value)
    assert usersig not in str(caught.value)


def _cache(clock: FakeClock, *, expire: int = 1000) -> UserSigCache:
    return UserSigCache(SDKAPPID, KEY, ADMIN, expire=expire, clock=clock)


# TLS.time has one-second resolution, so a UserSig made anew within the same wall-clock second
# can equal the old one in value; object identity tells a cached UserSig from a new one.


@pytest.mark.parametrize("elapsed", [0, 1, 250, 499])
def test_cache_reuses_usersig_before_half_validity(elapsed: float) -> None:
    clock = FakeClock(T0)
    cache = _cache(clock)
    first = cache.get()

    clock.now = T0 + elapsed

    assert cache.get() is first


@pytest.mark.parametrize("elapsed", [500, 501, 999, 5000])
def test_cache_renews_after_half_validity(elapsed: float) -> None:
    clock = FakeClock(T0)
    cache = _cache(clock)
    first = cache.get()

    clock.now = T0 + elapsed
    renewed = cache.get()

    assert renewed is not first
    clock.now = T0 + elapsed + 1
    assert cache.get() is renewed


def test_cache_issues_verifiable_usersig_for_its_identifier() -> None:
    cache = _cache(FakeClock(T0), expire=7200)
    usersig = cache.get()
    claims = decode_usersig(usersig)

    verify_usersig(usersig, sdkappid=SDKAPPID, key=KEY, identifier=ADMIN, clock=FakeClock(claims.time))
    assert claims.identifier == ADMIN
    assert claims.expire == 7200


def test_invalidate_forces_a_new_usersig() -> None:
    clock = FakeClock(T0)
    cache = _cache(clock)
    first = cache.get()

    cache.invalidate()
    second = cache.get()

    assert second is not first
    assert cache.get() is second


def test_cache_repr_hides_usersig_and_key() -> None:
    cache = _cache(FakeClock(T0))
    usersig = cache.get()

    text = repr(cache)

    assert usersig not in text
    assert KEY.get_secret_value() not in text
    assert ADMIN in text
