"""Readers for REST request fields, each failing with the error code Tencent gives for that field.

Tencent answers a distinct code per field (90005 for `MsgRandom`, 90007 for a non-array `MsgBody`…),
so the checks are small functions that name their code instead of one pydantic model per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from botkit.elements import MsgBody, first_problem, msg_body_adapter
from botkit.errorcodes import ErrorCode
from botkit.restmodels import MAX_BODY_BYTES, MAX_UINT32, body_size
from sandbox.errorcodes import SandboxError


def text(body: Mapping[str, Any], name: str, code: int) -> str:
    """A required non-empty string field."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise SandboxError(code, f"{name} is missing or is not a non-empty string.")
    return value


def optional_text(body: Mapping[str, Any], name: str, code: int, default: str = "") -> str:
    if name not in body:
        return default
    value = body[name]
    if not isinstance(value, str):
        raise SandboxError(code, f"{name} must be a string.")
    return value


def integer(body: Mapping[str, Any], name: str, code: int, *, low: int = 0, high: int = MAX_UINT32) -> int:
    """A required integer field within [low, high]; booleans are not integers here."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SandboxError(code, f"{name} is missing or is not an integer in [{low}, {high}].")
    return value


def optional_integer(
    body: Mapping[str, Any], name: str, code: int, *, low: int = 0, high: int = MAX_UINT32
) -> int | None:
    return integer(body, name, code, low=low, high=high) if name in body else None


def object_list(body: Mapping[str, Any], name: str, code: int, *, most: int) -> list[Mapping[str, Any]]:
    """A required non-empty array of JSON objects with at most `most` items."""
    value = body.get(name)
    if not isinstance(value, list) or not value or len(value) > most:
        raise SandboxError(code, f"{name} must be an array of 1 to {most} items.")
    if not all(isinstance(item, dict) for item in value):
        raise SandboxError(code, f"every item of {name} must be a JSON object.")
    return value


def msg_body(body: Mapping[str, Any]) -> MsgBody:
    """`MsgBody`: an array (90007) of well-formed elements (90002), at most 12 KB of content (80002)."""
    value = body.get("MsgBody")
    if not isinstance(value, list):
        raise SandboxError(ErrorCode.MSGBODY_NOT_ARRAY)
    if not value:
        raise SandboxError(ErrorCode.MSGBODY_MALFORMED, "MsgBody is empty.")
    try:
        parsed = msg_body_adapter.validate_python(value)
    except ValidationError as exc:
        raise SandboxError(
            ErrorCode.MSGBODY_MALFORMED, f"MsgBody is malformed: {first_problem(exc)}."
        ) from None
    if body_size(parsed) > MAX_BODY_BYTES:
        raise SandboxError(ErrorCode.BODY_TOO_LONG)
    return parsed


def optional_msg_body(body: Mapping[str, Any]) -> MsgBody | None:
    return msg_body(body) if "MsgBody" in body else None
