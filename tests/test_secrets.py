"""Secrets never show: not in reprs, not in errors, not in the log of a whole failing exchange."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
import pytest
from pydantic import SecretStr

from botkit.app import create_app
from botkit.config import Settings
from botkit.errors import ChatAPIError
from botkit.restapi import ChatClient
from tests.conftest import KEY, TOKEN, c2c_body, callback_url
from tests.fakechat import FakeChat

LLM_KEY = "sk-test-llm-key-should-never-show"


@pytest.fixture
def secret_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "llm": "openai",
            "llm_api_key": SecretStr(LLM_KEY),
            "llm_base_url": "http://llm.test/v1",
            "llm_model": "test-model",
        }
    )


def test_settings_repr_and_str_hide_every_secret(secret_settings: Settings) -> None:
    shown = repr(secret_settings) + str(secret_settings)

    for secret in (KEY, TOKEN, LLM_KEY):
        assert secret not in shown


async def test_a_failing_exchange_leaks_no_secret(
    secret_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    chat = FakeChat()
    chat.fail("openim/sendmsg", 70009, 70009)
    usersigs: list[str] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "llm.test":
            return httpx.Response(401, json={"error": {"message": "bad key"}})
        usersigs.append(request.url.params["usersig"])
        return chat(request)

    caplog.set_level(logging.DEBUG)
    app = create_app(secret_settings, transport=httpx.MockTransport(route))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
            await http.post(callback_url("Bot.OnC2CMessage"), content=c2c_body("hello"))
            await http.post(callback_url("Bot.OnC2CMessage"), content=b"{broken")
        await app.state.intake.wait_idle()

        client = ChatClient.from_settings(
            secret_settings, httpx.AsyncClient(transport=httpx.MockTransport(route))
        )
        with pytest.raises(ChatAPIError) as failure:
            await client.call("openim/sendmsg", {"To_Account": "u1"})

    shown = caplog.text + str(failure.value) + repr(failure.value) + repr(client)
    assert usersigs, "the exchange reached the REST API"
    for secret in (KEY, TOKEN, LLM_KEY, *usersigs):
        for form in (secret, quote(secret, safe=""), secret[:24]):
            assert form not in shown
    assert "giving up" in caplog.text
