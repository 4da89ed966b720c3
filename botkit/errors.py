"""The botkit exception tree; catch the level you can handle.

    BotkitError
    ├── ConfigError            a setting is missing or invalid (names the field)
    ├── CallbackError          a webhook request was refused (.status, .reason)
    ├── ChatError              talking to the Chat REST API failed
    │   ├── ChatAPIError       the envelope carried ErrorCode != 0 (.error_code, .error_info, .retryable)
    │   └── ChatTransportError network trouble, timeout or a non-200 gateway answer
    ├── UserSigError           a UserSig is malformed, foreign, mismatched or expired (.error_code)
    └── LLMError               the model provider failed, timed out or answered nothing
        ├── LLMUnavailable     the provider cannot run here (missing extra, missing key)
        └── LoopedAnswer       the model started repeating itself (.partial: the answer before that)

`classify_error_code` is the single place that says which REST error codes (named in `botkit.errorcodes`)
are worth a retry.
"""

from __future__ import annotations

from enum import Enum

from botkit.errorcodes import ErrorCode


class BotkitError(Exception):
    """Base class of every error botkit raises on purpose."""


class ConfigError(BotkitError):
    """A setting is missing or invalid."""


class CallbackError(BotkitError):
    """A webhook request that botkit refuses, with the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class ChatError(BotkitError):
    """A Chat REST API call failed."""


class Retry(Enum):
    """What a caller may do after a REST error code."""

    NEVER = "never"
    BACKOFF = "backoff"
    RENEW_USERSIG = "renew_usersig"


# Codes from protocol.md §4.1. Rate limits and internal errors are transient; everything
# else (bad request, auth, missing users, moderation) fails the same way on every attempt.
_RATE_LIMITS = (
    ErrorCode.REST_RATE_LIMIT,
    ErrorCode.REST_TOO_FREQUENT,
    ErrorCode.REQUESTS_TOO_FREQUENT,
    ErrorCode.TOO_MANY_REQUESTS,
    ErrorCode.GROUP_RATE_LIMIT,
)
_INTERNAL_ERRORS = (
    ErrorCode.INTERNAL_TIMEOUT,
    ErrorCode.ACCOUNT_INTERNAL_TIMEOUT,
    ErrorCode.MESSAGE_NETWORK_ERROR,
    ErrorCode.MESSAGE_INTERNAL_ERROR,
    ErrorCode.GROUP_INTERNAL_ERROR,
    ErrorCode.SERVICE_INTERNAL_ERROR,
    ErrorCode.SERVICE_ERROR,
)
_RETRY_BY_CODE: dict[int, Retry] = {
    **dict.fromkeys((*_RATE_LIMITS, *_INTERNAL_ERRORS), Retry.BACKOFF),
    ErrorCode.USERSIG_EXPIRED: Retry.RENEW_USERSIG,
}

_WRONG_KEY = "check BOTKIT_KEY: it must be the secret key of SDKAppID {sdkappid}"
_SETTING_HINTS: dict[int, str] = {
    ErrorCode.USERSIG_ILLEGAL: _WRONG_KEY,
    ErrorCode.USERSIG_FOREIGN_KEY: _WRONG_KEY,
    ErrorCode.USERSIG_SDKAPPID: "check BOTKIT_SDKAPPID: the UserSig is for another app",
    ErrorCode.USERSIG_EXPIRED: "check this machine's clock: a new UserSig was refused as expired",
    ErrorCode.NOT_ADMIN: "check BOTKIT_ADMIN: {admin} must be an app admin (console: Basic configuration)",
}


def setting_hint(error_code: int, *, sdkappid: int, admin: str) -> str | None:
    """Which setting a REST `ErrorCode` points at, in words a newcomer can act on, or None."""
    hint = _SETTING_HINTS.get(error_code)
    return hint.format(sdkappid=sdkappid, admin=admin) if hint else None


def classify_error_code(error_code: int) -> Retry:
    """How to react to a REST `ErrorCode`: give up, back off and retry, or renew the UserSig."""
    return _RETRY_BY_CODE.get(error_code, Retry.NEVER)


class ChatAPIError(ChatError):
    """The Chat REST API answered with `ErrorCode` != 0; `hint` says which setting to check, if any."""

    def __init__(self, command: str, error_code: int, error_info: str, *, hint: str | None = None) -> None:
        message = f"{command} failed with ErrorCode {error_code}: {error_info}"
        super().__init__(f"{message} ({hint})" if hint else message)
        self.command = command
        self.error_code = error_code
        self.error_info = error_info
        self.hint = hint

    @property
    def retryable(self) -> bool:
        return classify_error_code(self.error_code) is not Retry.NEVER


class ChatTransportError(ChatError):
    """The Chat REST API could not be reached, timed out, or answered with a non-200 status."""


class UserSigError(BotkitError):
    """A UserSig failed verification; `error_code` is the code Tencent answers for it."""

    def __init__(self, error_code: int, reason: str) -> None:
        super().__init__(f"UserSig rejected ({error_code}): {reason}")
        self.error_code = error_code
        self.reason = reason


class LLMError(BotkitError):
    """The model provider failed, timed out or produced an empty answer."""


class LLMUnavailable(LLMError):
    """The provider cannot run here; the message says what to install or set."""


class LoopedAnswer(LLMError):
    """The model fell into a loop and was stopped; `partial` is its answer up to the repetition.

    Sent to the user (when not empty) but never remembered, so the loop does not seed the next answer.
    """

    def __init__(self, partial: str) -> None:
        super().__init__(f"the answer started repeating itself after {len(partial)} characters")
        self.partial = partial
