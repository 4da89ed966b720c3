"""The sandbox's plain data: the app config and the records `SandboxState` stores and returns.

Nothing here knows the state itself: `sandbox.context` holds what a command runs with.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from botkit.config import Settings
from botkit.elements import MsgBody, dump_body


class SandboxConfig(BaseModel):
    """The fake app: its identity, the admin, and where (and how) robot callbacks go."""

    model_config = ConfigDict(extra="forbid")

    sdkappid: int = Field(gt=0)
    key: SecretStr
    admin: str = Field("administrator", min_length=1)
    webhook_url: str | None = None
    callback_token: SecretStr | None = None
    callback_timeout: float = Field(2.0, gt=0, description="Tencent waits 2 s for every callback.")
    callback_retries: int = Field(0, ge=0, le=5, description="Retries on timeout; Tencent's default is 0.")

    @field_validator("webhook_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("the callback URL must start with http:// or https://")
        return value

    @field_validator("callback_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 1 <= len(value.get_secret_value()) <= 128:
            raise ValueError("the callback token must be 1 to 128 characters")
        return value


def config_from_settings(settings: Settings, *, webhook_url: str | None = None) -> SandboxConfig:
    """A sandbox that matches a botkit deployment: same app, key, admin and callback token."""
    return SandboxConfig(
        sdkappid=settings.sdkappid,
        key=settings.key,
        admin=settings.admin,
        callback_token=settings.callback_token,
        webhook_url=webhook_url,
    )


@dataclass(frozen=True)
class Account:
    user_id: str
    nick: str = ""
    face_url: str = ""
    is_robot: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class Group:
    group_id: str
    type: str
    name: str
    owner: str = ""


@dataclass(frozen=True)
class C2CRecord:
    """A stored 1:1 message; `flag` is Tencent's MsgFlagBits (8 = recalled).

    `sender_synced` is False for a message sent with `SyncOtherMachine: 2`: it is then missing from
    the sender's own roaming history, though the recipient has it.
    """

    from_account: str
    to_account: str
    msg_seq: int
    msg_random: int
    msg_time: int
    msg_key: str
    body: MsgBody
    cloud_custom_data: str = ""
    flag: int = 0
    online_only: bool = False
    sender_synced: bool = True


@dataclass(frozen=True)
class GroupRecord:
    """A stored group message; `msg_seq` is given by `store_group`, from 1 in each group."""

    group_id: str
    random: int
    from_account: str
    msg_time: int
    body: MsgBody
    msg_seq: int = 0
    cloud_custom_data: str = ""
    priority: str = "Normal"
    online_only: bool = False


@dataclass(frozen=True)
class Conversation:
    """One line of a user's conversation list, newest first."""

    kind: Literal["c2c", "group"]
    peer: str
    last_text: str
    last_time: int


def content_crc(body: MsgBody) -> int:
    """CRC32 of a body's canonical JSON: Tencent's "same content" test for de-dup."""
    canonical = json.dumps(dump_body(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return zlib.crc32(canonical.encode("utf-8"))
