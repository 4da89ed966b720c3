"""Evaluation suites: candidate system prompts and test conversations, in a TOML file the user edits.

A suite is data, not code, so prompt tuning needs no Python: see `notebooks/suites/example.toml`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from botkit.config import ROBOT_PREFIX
from botkit.errors import ConfigError


class _Strict(BaseModel):
    # A misspelt key (`must_contains`) must fail loudly, not silently check nothing.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TurnCase(_Strict):
    """One user message and what its answer must (not) say; text checks ignore case."""

    user: str = Field(min_length=1)
    must_contain: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    must_match: list[str] = Field(default_factory=list, description="Regular expressions.")
    must_not_match: list[str] = Field(default_factory=list, description="Regular expressions.")
    max_chars: int | None = Field(None, gt=0)
    max_seconds: float | None = Field(None, gt=0)

    @field_validator("must_match", "must_not_match")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return patterns


class Conversation(_Strict):
    """Turns sent in order to one robot, sharing one memory."""

    name: str = Field(min_length=1)
    robot: str | None = Field(None, description="Default: the first of BOTKIT_ROBOTS.")
    turns: list[TurnCase] = Field(min_length=1)

    @field_validator("robot")
    @classmethod
    def _check_robot(cls, robot: str | None) -> str | None:
        if robot is not None and not robot.startswith(ROBOT_PREFIX):
            raise ValueError(f"robot UserIDs start with {ROBOT_PREFIX}")
        return robot


class Suite(_Strict):
    """Named candidate system prompts and the conversations every one of them is tried on."""

    prompts: dict[str, str] = Field(min_length=1)
    conversations: list[Conversation] = Field(min_length=1)

    @field_validator("prompts")
    @classmethod
    def _check_prompts(cls, prompts: dict[str, str]) -> dict[str, str]:
        empty = [name for name, text in prompts.items() if not text.strip()]
        if empty:
            raise ValueError(f"empty prompt: {', '.join(empty)}")
        return prompts

    @model_validator(mode="after")
    def _unique_names(self) -> Suite:
        names = [conversation.name for conversation in self.conversations]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"conversation names must be unique: {', '.join(repeated)}")
        return self

    def only(self, prompt_names: Sequence[str]) -> Suite:
        """The same suite with just these prompts (all of them when none are named)."""
        if not prompt_names:
            return self
        unknown = [name for name in prompt_names if name not in self.prompts]
        if unknown:
            raise ConfigError(
                f"no prompt named {', '.join(unknown)} in the suite; it has {', '.join(self.prompts)}"
            )
        return self.model_copy(update={"prompts": {name: self.prompts[name] for name in prompt_names}})


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file; every problem is a `ConfigError` naming the file and the field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the suite: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_field(error['loc'], data)}: {error['msg']}" for error in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None


def _field(loc: tuple[int | str, ...], data: object) -> str:
    """`conversations[refund].turns[1].max_chars`: tables named by their `name`, turns counted from 1."""
    text, node = "", data
    for part in loc:
        if isinstance(part, str):
            text += f".{part}"
            node = node.get(part) if isinstance(node, dict) else None
            continue
        node = node[part] if isinstance(node, list) and part < len(node) else None
        name = node.get("name") if isinstance(node, dict) else None
        text += f"[{name}]" if isinstance(name, str) and name else f"[{part + 1}]"
    return text.lstrip(".") or "suite"
