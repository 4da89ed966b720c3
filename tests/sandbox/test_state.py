"""SandboxState: survives a restart, answers the UI's views, takes calls from many threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from botkit.config import Settings
from botkit.elements import text_body
from sandbox.models import (
    C2CRecord,
    Conversation,
    Group,
    GroupRecord,
    SandboxConfig,
    config_from_settings,
)
from sandbox.state import SandboxState
from tests.support import KEY, ROBOT

from .conftest import make_state


def test_a_file_database_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.db")
    state = make_state(path=path)
    state.store_c2c(C2CRecord("alice", ROBOT, 1, 2, 1700000000, "1_2_1700000000", text_body("kept")))
    state.create_group(Group("g1", "Public", "team"), ["alice", ROBOT])
    state.store_group(GroupRecord("g1", 5, "alice", 1700000001, text_body("also kept")))
    state.close()

    reopened = SandboxState(path)
    assert reopened.config.callback_token is not None
    assert reopened.config.key.get_secret_value() == KEY
    assert [robot.user_id for robot in reopened.robots()] == [ROBOT]
    assert reopened.c2c_history("alice", ROBOT)[0].msg_key == "1_2_1700000000"
    assert reopened.group_history("g1")[0].msg_seq == 1
    assert reopened.members("g1") == ["alice", ROBOT]


def test_a_database_from_before_sender_synced_gains_the_column(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.db")
    state = make_state(path=path)
    state.store_c2c(C2CRecord("alice", ROBOT, 1, 2, 1700000000, "1_2_1700000000", text_body("old")))
    state.close()
    with sqlite3.connect(path) as old:
        old.execute("ALTER TABLE c2c_messages DROP COLUMN sender_synced")
    old.close()

    reopened = SandboxState(path)
    [record] = reopened.c2c_history("alice", ROBOT)
    assert record.sender_synced
    reopened.close()


def test_unconfigured_state_says_what_to_do() -> None:
    with pytest.raises(LookupError, match="set_config"):
        _ = SandboxState().config


def test_list_conversations_newest_first() -> None:
    state = make_state()
    state.store_c2c(C2CRecord("alice", "bob", 1, 1, 100, "1_1_100", text_body("old")))
    state.store_c2c(C2CRecord(ROBOT, "alice", 2, 2, 300, "2_2_300", text_body("newest")))
    state.create_group(Group("g1", "Public", "team"), ["alice"])
    state.store_group(GroupRecord("g1", 5, "bob", 200, text_body("middle")))
    state.create_group(Group("g2", "Public", "quiet"), ["alice"])
    assert state.list_conversations("alice") == [
        Conversation("c2c", ROBOT, "newest", 300),
        Conversation("group", "g1", "middle", 200),
        Conversation("c2c", "bob", "old", 100),
        Conversation("group", "g2", "", 0),
    ]


def test_group_msg_seq_is_unique_under_concurrent_writers() -> None:
    state = make_state()
    state.create_group(Group("g1", "Public", "team"), [])

    def write(worker: int) -> None:
        for index in range(25):
            state.store_group(GroupRecord("g1", worker * 100 + index, "bob", 1, text_body("x")))

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(record.msg_seq for record in state.group_history("g1", limit=500)) == list(range(1, 101))


@pytest.mark.parametrize(
    "change", [{"webhook_url": "ftp://bot"}, {"callback_token": SecretStr("")}, {"callback_retries": 9}]
)
def test_config_rejects_bad_values(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SandboxConfig.model_validate({"sdkappid": 1, "key": "k"} | change)


def test_config_from_settings_copies_the_app(settings: Settings) -> None:
    config = config_from_settings(settings, webhook_url="http://127.0.0.1:8000/im")
    assert (config.sdkappid, config.admin, config.webhook_url) == (
        settings.sdkappid,
        settings.admin,
        "http://127.0.0.1:8000/im",
    )
    assert config.callback_token == settings.callback_token
    assert "test-secret" not in repr(config)
