"""The app `python -m sandbox` serves: made up on first run, kept in the data dir, pinned by BOTKIT_*.

A value set in the environment wins; one left unset is kept from the last run, or generated on the
first (an SDKAppID like Tencent's, a random key and callback token). The bot is told the result
through `bot_env`, which is also written to `bot.env` for a bot run by hand.
"""

from __future__ import annotations

import random
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from botkit.config import check_robots, describe_validation_error, split_robots
from botkit.errors import ConfigError
from sandbox.models import SandboxConfig
from sandbox.seed import DEMO_GROUP, DEMO_USER, seed_demo
from sandbox.state import SandboxState

DEFAULT_ROBOT = "@RBT#001"
ENV_FILE = "bot.env"
FIRST_SDKAPPID = 1400000000


class AppChoice(BaseModel):
    """The BOTKIT_* variables that pin the local app; any left unset is kept or generated."""

    model_config = ConfigDict(extra="forbid")

    sdkappid: int | None = Field(None, gt=0)
    key: SecretStr | None = None
    callback_token: SecretStr | None = None
    admin: str | None = Field(None, min_length=1)
    robots: list[str] | None = None

    @field_validator("robots", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_robots(value)

    @field_validator("robots")
    @classmethod
    def _check_robots(cls, value: list[str] | None) -> list[str] | None:
        return check_robots(value) if value is not None else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AppChoice:
        """Read BOTKIT_SDKAPPID, _KEY, _CALLBACK_TOKEN, _ADMIN and _ROBOTS; a bad value is a `ConfigError`."""
        found = {name: environ.get(f"BOTKIT_{name.upper()}", "") for name in cls.model_fields}
        try:
            return cls.model_validate({name: value for name, value in found.items() if value})
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc)) from None


@dataclass(frozen=True)
class LocalApp:
    """The configured app and who is in it."""

    config: SandboxConfig
    robots: list[str]
    user: str = DEMO_USER
    group: str = DEMO_GROUP


def _first_config(rng: random.Random) -> SandboxConfig:
    return SandboxConfig(
        sdkappid=FIRST_SDKAPPID + rng.randrange(1, 10**6),
        key=SecretStr(rng.randbytes(24).hex()),
        callback_token=SecretStr(rng.randbytes(16).hex()),
    )


def open_local_app(
    state: SandboxState, choice: AppChoice, *, webhook_url: str | None, rng: random.Random
) -> LocalApp:
    """Configure `state` (kept values, overridden by `choice`), point callbacks at `webhook_url`, seed it."""
    kept = state.config if state.configured else _first_config(rng)
    pinned = choice.model_dump(exclude_none=True, exclude={"robots"})
    try:
        config = SandboxConfig.model_validate(kept.model_dump() | pinned | {"webhook_url": webhook_url})
    except ValidationError as exc:
        raise ConfigError(f"invalid webhook URL: {exc.errors()[0]['msg']}") from None
    state.set_config(config)
    robots = choice.robots or [robot.user_id for robot in state.robots()] or [DEFAULT_ROBOT]
    seed_demo(state, robots)
    return LocalApp(state.config, robots)


def bot_env(app: LocalApp, api_base: str) -> dict[str, str]:
    """The BOTKIT_* variables that make a botkit bot talk to this sandbox as this app."""
    config = app.config
    env = {
        "BOTKIT_SDKAPPID": str(config.sdkappid),
        "BOTKIT_KEY": config.key.get_secret_value(),
        "BOTKIT_ADMIN": config.admin,
        "BOTKIT_ROBOTS": ",".join(app.robots),
        "BOTKIT_API_BASE": api_base,
    }
    if config.callback_token is not None:
        env["BOTKIT_CALLBACK_TOKEN"] = config.callback_token.get_secret_value()
    return env


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write `env` as NAME='value' lines, readable by python-dotenv and `set -a; . FILE`; owner-only."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items()))
