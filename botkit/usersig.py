"""Admin UserSigs (TLS sig v2): generate with `tls-sig-api-v2`, cache and renew early, and verify.

Format (protocol.md §8): zlib-compressed JSON, Base64 with `+/=` mapped to `*-_`, whose `TLS.sig`
is Base64(HMAC-SHA256(key, four "TLS.x:value\\n" lines)). Expiry is `TLS.time + TLS.expire`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import TLSSigAPIv2
from pydantic import SecretStr

from botkit.errorcodes import ErrorCode
from botkit.errors import UserSigError

DEFAULT_EXPIRE_SECONDS = 7 * 86400
RENEW_FRACTION = 0.5  # renew once half the validity has passed: never near expiry


@dataclass(frozen=True)
class UserSigClaims:
    """What a UserSig says about itself."""

    identifier: str
    sdkappid: int
    time: int
    expire: int
    version: str
    userbuf: str | None = None

    @property
    def expires_at(self) -> int:
        return self.time + self.expire


def generate_usersig(sdkappid: int, key: SecretStr, identifier: str, expire: int) -> str:
    """A fresh UserSig for `identifier`, valid for `expire` seconds from now."""
    api = TLSSigAPIv2.TLSSigAPIv2(sdkappid, key.get_secret_value())
    return str(api.gen_sig(identifier, expire))


def decode_usersig(usersig: str) -> UserSigClaims:
    """Read a UserSig's fields without checking its signature; `UserSigError(70003)` if malformed."""
    return _decode(usersig)[0]


def _decode(usersig: str) -> tuple[UserSigClaims, str]:
    """The claims and the `TLS.sig` field of a UserSig."""
    try:
        data = json.loads(zlib.decompress(_url_b64decode(usersig)).decode("utf-8"))
        claims = UserSigClaims(
            identifier=str(data["TLS.identifier"]),
            sdkappid=int(data["TLS.sdkappid"]),
            time=int(data["TLS.time"]),
            expire=int(data["TLS.expire"]),
            version=str(data.get("TLS.ver", "")),
            userbuf=data.get("TLS.userbuf"),
        )
        return claims, str(data["TLS.sig"])
    except (ValueError, KeyError, TypeError, zlib.error, binascii.Error) as exc:
        raise UserSigError(ErrorCode.USERSIG_ILLEGAL, f"malformed UserSig ({type(exc).__name__})") from None


def verify_usersig(
    usersig: str,
    *,
    sdkappid: int,
    key: SecretStr,
    identifier: str,
    clock: Callable[[], float] = time.time,
) -> UserSigClaims:
    """Check a UserSig as the Chat backend does, raising `UserSigError` with Tencent's code.

    Order: decode (70003), app (70014), identifier (70013), signature (70009), expiry (70001).
    """
    claims, signature = _decode(usersig)
    if claims.sdkappid != sdkappid:
        raise UserSigError(ErrorCode.USERSIG_SDKAPPID, "the UserSig was made for another SDKAppID")
    if claims.identifier != identifier:
        raise UserSigError(ErrorCode.USERSIG_IDENTIFIER, "the UserSig was made for another identifier")
    if not hmac.compare_digest(sig_field(claims, key).encode(), signature.encode()):
        raise UserSigError(
            ErrorCode.USERSIG_FOREIGN_KEY, "the UserSig was signed with another app's secret key"
        )
    if clock() >= claims.expires_at:
        raise UserSigError(ErrorCode.USERSIG_EXPIRED, "the UserSig has expired")
    return claims


def sig_field(claims: UserSigClaims, key: SecretStr) -> str:
    """The `TLS.sig` value for these claims under `key`."""
    content = (
        f"TLS.identifier:{claims.identifier}\n"
        f"TLS.sdkappid:{claims.sdkappid}\n"
        f"TLS.time:{claims.time}\n"
        f"TLS.expire:{claims.expire}\n"
    )
    if claims.userbuf is not None:
        content += f"TLS.userbuf:{claims.userbuf}\n"
    digest = hmac.new(
        key.get_secret_value().encode("utf-8"), content.encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class UserSigCache:
    """Keeps one admin UserSig and renews it once half of its validity has passed."""

    def __init__(
        self,
        sdkappid: int,
        key: SecretStr,
        identifier: str,
        *,
        expire: int = DEFAULT_EXPIRE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sdkappid = sdkappid
        self._key = key
        self.identifier = identifier
        self._expire = expire
        self._clock = clock
        self._usersig: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:
        return f"UserSigCache(sdkappid={self._sdkappid}, identifier={self.identifier!r})"

    def get(self) -> str:
        """The cached UserSig, made anew when none is cached or it is due for renewal."""
        now = self._clock()
        if self._usersig is None or now >= self._renew_at:
            self._usersig = generate_usersig(self._sdkappid, self._key, self.identifier, self._expire)
            self._renew_at = now + self._expire * RENEW_FRACTION
        return self._usersig

    def invalidate(self) -> None:
        """Forget the cached UserSig, e.g. after the server answered 70001 (expired)."""
        self._usersig = None


def _url_b64decode(usersig: str) -> bytes:
    mapped = usersig.replace("*", "+").replace("-", "/").replace("_", "=")
    return base64.b64decode(mapped, validate=True)
