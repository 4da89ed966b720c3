"""What a sandbox starts with: its app, the robots, and a user and a group to chat as and in.

`python -m sandbox` keeps its app in the data dir: made up on the first run (an SDKAppID like
Tencent's, a random key and callback token), kept on later ones, and pinned by the BOTKIT_*
variables of `APP_FIELDS` set in the environment, read by botkit's own settings reader. `bot_env`
tells a bot the result; the sandbox also writes it to `bot.env` for a bot run by hand.
"""

from __future__ import annotations

import random
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from botkit.config import configured_values, load_settings
from botkit.errors import ConfigError
from sandbox.models import Group, SandboxConfig
from sandbox.state import SandboxState

DEMO_USER = "user1"
DEMO_GROUP = "@TGS#demo"
DEMO_GROUP_NAME = "Demo group"
DEFAULT_ROBOT = "@RBT#001"
BOT_ENV_FILE = "bot.env"
FIRST_SDKAPPID = 1400000000
APP_FIELDS = ("sdkappid", "key", "callback_token", "admin", "robots")
"""The settings that pin the app; the other BOTKIT_* variables are the bot's alone."""


@dataclass(frozen=True)
class SeededApp:
    """The configured app and who is in it."""

    config: SandboxConfig
    robots: list[str]
    user: str = DEMO_USER
    group: str = DEMO_GROUP


def seed_demo(
    state: SandboxState, robots: Sequence[str], *, user: str = DEMO_USER, group: str = DEMO_GROUP
) -> None:
    """The robots, a user and a Public group holding both; safe to run on every start."""
    for robot in robots:
        if state.account(robot) is None:
            state.create_robot(robot)
    if state.account(user) is None:
        state.import_account(user)
    members = [user, *robots]
    if state.group(group) is None:
        state.create_group(Group(group, "Public", DEMO_GROUP_NAME, owner=user), members)
        return
    for member in members:
        state.add_member(group, member)


def pinned_values() -> dict[str, Any]:
    """The `APP_FIELDS` set (and not empty) in the environment; a `.env` file does not pin the app."""
    values = configured_values(env_file=None)
    return {name: values[name] for name in APP_FIELDS if values.get(name) not in (None, "")}


def seed_app(
    state: SandboxState, pinned: Mapping[str, Any], *, webhook_url: str | None, rng: random.Random
) -> SeededApp:
    """Configure `state` (kept values, overridden by `pinned`), point callbacks at `webhook_url`, seed it.

    A bad pinned value is a `ConfigError` naming its variable, as `botkit serve` would say it.
    """
    kept = state.config if state.configured else _first_config(rng)
    kept_robots = [robot.user_id for robot in state.robots()] or [DEFAULT_ROBOT]
    app = load_settings(env_file=None, environment=False, **_app_values(kept, kept_robots) | dict(pinned))
    try:
        config = SandboxConfig(
            sdkappid=app.sdkappid,
            key=app.key,
            admin=app.admin,
            callback_token=app.callback_token,
            webhook_url=webhook_url,
            callback_timeout=kept.callback_timeout,
            callback_retries=kept.callback_retries,
        )
    except ValidationError as exc:
        raise ConfigError(f"invalid webhook URL: {exc.errors()[0]['msg']}") from None
    state.set_config(config)
    seed_demo(state, app.robots)
    return SeededApp(state.config, app.robots)


def bot_env(app: SeededApp, api_base: str) -> dict[str, str]:
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


def _first_config(rng: random.Random) -> SandboxConfig:
    return SandboxConfig(
        sdkappid=FIRST_SDKAPPID + rng.randrange(1, 10**6),
        key=SecretStr(rng.randbytes(24).hex()),
        callback_token=SecretStr(rng.randbytes(16).hex()),
    )


def _app_values(kept: SandboxConfig, robots: list[str]) -> dict[str, Any]:
    return {
        "sdkappid": kept.sdkappid,
        "key": kept.key,
        "admin": kept.admin,
        "callback_token": kept.callback_token,
        "robots": robots,
    }
