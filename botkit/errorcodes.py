"""Tencent's REST `ErrorCode`s by name: the ones botkit reacts to and the ones the sandbox answers.

One enum for both sides, so the fake fails with the codes the bot classifies. Meanings follow
protocol.md §4.1 and https://trtc.io/document/34348; the retry policy is in `errors`, the sandbox's
`ErrorInfo` texts in `sandbox.errorcodes`.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """A REST answer's `ErrorCode`, named for what went wrong; 0 is success."""

    OK = 0
    # Groups (10xxx)
    GROUP_INTERNAL_ERROR = 10002
    GROUP_BAD_PARAM = 10004
    NO_PERMISSION = 10007
    ROBOT_LIMIT = 10008
    GROUP_NOT_FOUND = 10010
    GROUP_ID_TAKEN = 10021
    GROUP_RATE_LIMIT = 10023
    # Messages (20xxx)
    MESSAGE_NETWORK_ERROR = 20004
    MESSAGE_INTERNAL_ERROR = 20005
    MESSAGE_NOT_FOUND = 20022
    # The REST gateway (60xxx)
    HTTP_PARSE = 60002
    URL_ACCOUNT = 60004
    URL_USERSIG = 60005
    SDKAPPID_INVALID = 60006
    REST_RATE_LIMIT = 60007
    INTERNAL_TIMEOUT = 60008
    NOT_ADMIN = 60010
    REST_TOO_FREQUENT = 60011
    SDKAPPID_REQUIRED = 60012
    REQUESTS_TOO_FREQUENT = 60018
    TOO_MANY_REQUESTS = 60019
    # Accounts and UserSig (70xxx)
    USERSIG_EXPIRED = 70001
    USERSIG_ILLEGAL = 70003
    USERSIG_FOREIGN_KEY = 70009
    USERSIG_IDENTIFIER = 70013
    USERSIG_SDKAPPID = 70014
    SDKAPPID_NOT_FOUND = 70020
    ACCOUNT_NOT_IMPORTED = 70107
    ACCOUNT_INTERNAL_TIMEOUT = 70169
    ACCOUNT_BAD_PARAM = 70402
    # Message content (80xxx) and message requests (90xxx)
    BODY_TOO_LONG = 80002
    JSON_PARSE = 90001
    MSGBODY_MALFORMED = 90002
    MSGRANDOM_INVALID = 90005
    MSGBODY_NOT_ARRAY = 90007
    FROM_ACCOUNT_INVALID = 90008
    MSG_FIELD_INVALID = 90010
    TOO_MANY_RECIPIENTS = 90011
    TO_ACCOUNT_INVALID = 90012
    LIFETIME_INVALID = 90026
    MSGKEY_INVALID = 90054
    SERVICE_INTERNAL_ERROR = 90994
    SERVICE_ERROR = 91000
