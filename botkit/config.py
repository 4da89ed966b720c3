"""Settings from `BOTKIT_*` environment variables and an optional `.env` file: botkit's one reader.

`load_settings()` takes its arguments first, then the environment, then the env file, then the
defaults, as starlette's `Config` does. Nothing is read at import time: build the settings once and
pass them down.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_serializer, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from botkit.errors import ConfigError

ROBOT_PREFIX = "@RBT#"
DEFAULT_ENV_FILE = ".env"

EnvFile = str | Path

LLMName = Literal["echo", "local", "openai", "minimax"]
StreamMode = Literal["off", "robot", "native", "edit"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant in a chat app. Answer briefly and plainly, "
    "in the language the user writes in."
)
DEFAULT_FALLBACK_REPLY = "Sorry, I can't answer right now. Please try again in a moment."
DEFAULT_NON_TEXT_REPLY = "Sorry, I can only read text messages. Please write your question as text."


class Settings(BaseSettings):
    """Everything botkit needs to run; secrets are `SecretStr` and never shown in reprs."""

    model_config = SettingsConfigDict(
        env_prefix="BOTKIT_", env_file=DEFAULT_ENV_FILE, extra="ignore", validate_default=True
    )

    sdkappid: int = Field(gt=0, description="The Chat app's SDKAppID.")
    key: SecretStr = Field(description="The Chat app's secret key, used to sign UserSigs.")
    admin: str = Field("administrator", min_length=1, description="App admin UserID for REST.")
    api_base: str = Field("https://console.tim.qq.com", description="REST API base URL.")
    callback_token: SecretStr | None = Field(
        None, description="Callback auth token; when set, every callback must be signed."
    )
    callback_path: str = Field("/im", description="Path the webhook listens on.")
    robots: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["@RBT#001"],
        description="Comma-separated robot UserIDs this service answers for.",
    )
    llm: LLMName | None = Field(None, description="echo, local, openai or minimax.")
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for a whole answer.")
    llm_max_tokens: int | None = Field(
        None, gt=0, description="Answer length cap; default 512, or 200 for the local model."
    )
    llm_images: bool = Field(
        False, description="The model reads images: image URLs in a message are shown to it."
    )
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    robot_prompts: dict[str, str] = Field(
        default_factory=dict, description='Per-robot system prompts, JSON: {"@RBT#001": "..."}.'
    )
    fallback_reply: str = DEFAULT_FALLBACK_REPLY
    non_text_reply: str = Field(
        DEFAULT_NON_TEXT_REPLY,
        min_length=1,
        description="Sent, without asking the model, for a message with no text.",
    )
    store: str = Field(
        "sqlite:///botkit.db",
        repr=False,  # a redis:// URL may carry a password
        description="sqlite:///PATH, redis://[:password@]host:port/db or memory://",
    )
    history_chars: int = Field(6000, ge=0, description="Character budget for remembered turns.")
    history_turns: int = Field(20, ge=0, description="At most this many remembered turns.")
    rest_timeout: float = Field(10.0, gt=3.0, description="REST timeout; Tencent's own is 3 s.")
    rest_retries: int = Field(3, ge=0, description="Retries on retryable REST errors.")
    max_in_flight: int = Field(500, ge=1, description="Messages answered at the same time, at most.")
    llm_concurrency: int | None = Field(
        None, ge=1, description="Model calls at the same time, at most; BOTKIT_MAX_IN_FLIGHT when unset."
    )
    lease_seconds: float = Field(
        10.0, ge=1.0, description="How long a crashed process holds its messages before another resumes them."
    )
    rest_rate_limit: float = Field(
        200.0, ge=0, description="REST calls/s per command, Tencent's default limit; 0 = unpaced."
    )
    max_attempts: int = Field(5, ge=1, description="Tries per message before it is given up.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    allowed_sources: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDRs callbacks may come from; empty allows any address.",
    )

    @field_validator("allowed_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            return [ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
        return value

    @field_serializer("api_base", "llm_base_url", "store")
    def _mask_url_password(self, value: str | None) -> str | None:
        """Dumps show URLs with their password masked (a redis:// store URL may carry one)."""
        return mask_url_password(value) if value is not None else None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, mask_url_password(value) if name in _URL_FIELDS and value is not None else value

    def secrets(self) -> list[str]:
        """Every secret these settings hold, for the log scrubber: keys, token, URL passwords."""
        found = [self.key.get_secret_value()]
        found += [secret.get_secret_value() for secret in (self.callback_token, self.llm_api_key) if secret]
        for url in (self.api_base, self.llm_base_url, self.store):
            password = urlsplit(url).password if url and "://" in url else None
            if password:
                found += [password, unquote(password)]
        return found

    # -- operations: server limits, abuse and cost limits, logs, metrics (issue 9) --
    max_connections: int = Field(1000, ge=1, description="Open connections at most (capped by the fd limit).")
    read_timeout: float = Field(
        10.0, gt=0, description="Seconds a connection gets to send a whole request; then it is closed."
    )
    keep_alive_timeout: int = Field(5, ge=1, description="Seconds an idle keep-alive connection stays.")
    backlog: int = Field(2048, ge=1, description="Connections the kernel queues before they are accepted.")
    user_rate_per_minute: int = Field(30, ge=0, description="Model calls per user and minute; 0: no limit.")
    user_daily_quota: int = Field(0, ge=0, description="Model calls per user and UTC day; 0: no quota.")
    rate_limit_reply: str = "You are sending messages faster than I can answer. Please wait a minute."
    quota_reply: str = "You have reached today's limit of answers. Please come back tomorrow."
    max_input_chars: int = Field(
        4000, ge=1, description="Longer messages are cut before the model sees them."
    )
    log_format: Literal["text", "json"] = "text"
    api_docs: bool = Field(False, description="Serve /docs, /redoc and /openapi.json.")
    stream: StreamMode = Field(
        "edit", description="Show answers as the model writes them: off, robot, native or edit (README)."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("robots", mode="before")
    @classmethod
    def _split_robots(cls, value: object) -> object:
        """`BOTKIT_ROBOTS` is comma-separated: "@RBT#001, @RBT#002" → ["@RBT#001", "@RBT#002"]."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("robots")
    @classmethod
    def _check_robots(cls, robots: list[str]) -> list[str]:
        """At least one robot, each a robot UserID."""
        if not robots:
            raise ValueError("name at least one robot UserID")
        bad = [str(number) for number, robot in enumerate(robots, 1) if not robot.startswith(ROBOT_PREFIX)]
        if bad:
            # Positions, not values: a key pasted into the wrong variable must not be printed back.
            raise ValueError(f"robot UserIDs must start with {ROBOT_PREFIX}: not entry {', '.join(bad)}")
        return robots

    @field_validator("api_base", "llm_base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("callback_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    def prompt_for(self, robot: str) -> str:
        """The system prompt of one robot: its own, else the shared one."""
        return self.robot_prompts.get(robot, self.system_prompt)


_URL_FIELDS = frozenset({"api_base", "llm_base_url", "store"})
_URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.\-]*://[^/@]*?:)[^/@]*@", re.IGNORECASE)


def mask_url_password(url: str) -> str:
    """`redis://:secret@host/0` → `redis://:***@host/0`; other URLs unchanged."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def load_settings(
    *, env_file: EnvFile | None = DEFAULT_ENV_FILE, environment: bool = True, **overrides: object
) -> Settings:
    """`Settings` from `overrides`, then the `BOTKIT_*` environment (unless `environment` is False),
    then `env_file` (None: no file), then the defaults; bad values are one `ConfigError`."""
    values = configured_values(env_file=env_file, environment=environment) | overrides
    try:
        checked = _Given(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    return Settings.model_construct(checked.model_fields_set, **dict(checked))


def configured_values(
    *, env_file: EnvFile | None = DEFAULT_ENV_FILE, environment: bool = True
) -> dict[str, Any]:
    """What the environment, then `env_file`, set, by field name, read as `load_settings` reads them but
    not yet checked: for a caller that asks whether a value is set, or fills the gaps itself."""
    try:
        found = DotEnvSettingsSource(Settings, env_file=env_file)() if env_file is not None else {}
        return found | (EnvSettingsSource(Settings)() if environment else {})
    except SettingsError as exc:
        # pydantic-settings fails before validation when a JSON-typed variable is not JSON.
        match = re.search(r'field "(\w+)"', str(exc))
        name = f"BOTKIT_{match.group(1).upper()}" if match else "a BOTKIT_ variable"
        raise ConfigError(f"invalid configuration: {name} is not valid JSON") from None


class _Given(Settings):
    """`Settings` from its arguments alone: `load_settings` has read the environment and the file already."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _describe(exc: ValidationError) -> str:
    """One line per bad field, named as its environment variable, with no input values."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        env_name = f"BOTKIT_{field.upper()}"
        lines.append(
            f"{env_name} is required" if error["type"] == "missing" else f"{env_name}: {error['msg']}"
        )
    return "invalid configuration: " + "; ".join(lines)
