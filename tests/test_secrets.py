"""Secrets never show: not in reprs, not in errors, not in the log of a whole failing exchange."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from botkit.app import create_app, wiring_of
from botkit.config import Settings, load_settings
from botkit.errorcodes import ErrorCode
from botkit.errors import ChatAPIError, ConfigError
from botkit.logmask import escape_controls, install_log_scrubber, register_secrets, scrub
from botkit.restapi import ChatClient
from botkit.restmodels import Envelope
from sandbox.harness import InProcessSandbox
from tests.support import KEY, TOKEN, ByHost, KeepsUserSigs, c2c_body, callback_url, error_codes

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


def refused_model(request: httpx.Request) -> httpx.Response:
    return httpx.Response(401, json={"error": {"message": "bad key"}})


async def test_a_failing_exchange_leaks_no_secret(
    secret_settings: Settings, chat_api: InProcessSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # The sandbox's app has another key, so it refuses every UserSig the bot makes: 70009.
    wrong_key = secret_settings.model_copy(update={"key": SecretStr("not-this-apps-key")})
    chat = KeepsUserSigs(chat_api.transport)
    network = ByHost(chat, {"llm.test": httpx.MockTransport(refused_model)})

    caplog.set_level(logging.DEBUG)
    app = create_app(wrong_key, transport=network)
    async with chat_api.running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
            await http.post(callback_url("Bot.OnC2CMessage"), content=c2c_body("hello"))
            await http.post(callback_url("Bot.OnC2CMessage"), content=b"{broken")
        await chat_api.settle()

        client = ChatClient.from_settings(wrong_key, httpx.AsyncClient(transport=network))
        with pytest.raises(ChatAPIError) as failure:
            await client.call("openim/sendmsg", {"To_Account": "u1"})

    shown = caplog.text + str(failure.value) + repr(failure.value) + repr(client)
    assert set(error_codes(chat_api)) == {70009}
    assert chat.usersigs, "the exchange reached the REST API"
    for secret in (KEY, TOKEN, LLM_KEY, "not-this-apps-key", *chat.usersigs):
        for form in (secret, quote(secret, safe=""), secret[:24]):
            assert form not in shown
    assert "giving up" in caplog.text


def assert_hidden(shown: str, secrets: list[str]) -> None:
    """No secret in `shown`, whole, URL-quoted or cut to its first 12 or 24 characters."""
    for secret in secrets:
        for form in (secret, quote(secret, safe=""), quote(secret), secret[:24], secret[:12]):
            assert form not in shown, f"{form!r} shows"


async def _exchange(settings: Settings, network: httpx.AsyncBaseTransport) -> tuple[FastAPI, str]:
    """Run one C2C message through a bot whose network is `network`; the journal key."""
    app = create_app(settings, transport=network)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
            await http.post(callback_url("Bot.OnC2CMessage"), content=c2c_body("hello"))
        await wiring_of(app).intake.wait_idle()
    return app, "c2c:u1:@RBT#001:1_918273645_1700000101"


async def test_an_llm_key_quoted_in_a_malformed_model_frame_is_not_logged(
    secret_settings: Settings, chat_api: InProcessSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    def model(request: httpx.Request) -> httpx.Response:
        quoted = request.headers["authorization"]
        body = f"data: {{not json, you sent {quoted} and {quote(LLM_KEY)} and {LLM_KEY}\n\n"
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    caplog.set_level(logging.DEBUG)
    await _exchange(secret_settings, ByHost(chat_api.transport, {"llm.test": httpx.MockTransport(model)}))

    assert "malformed answer" in caplog.text
    assert error_codes(chat_api) == [0]
    assert_hidden(caplog.text, [LLM_KEY])


async def test_a_usersig_quoted_in_a_rest_error_is_neither_logged_nor_stored(
    secret_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    usersigs: list[str] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "llm.test":
            return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})
        usersigs.append(request.url.params["usersig"])
        info = f"bad request {request.url} (quoted: {quote(str(request.url), safe='')})"
        return httpx.Response(200, json=Envelope.error(ErrorCode.USERSIG_ILLEGAL, info).to_wire())

    caplog.set_level(logging.DEBUG)
    app, key = await _exchange(secret_settings, httpx.MockTransport(route))
    entry = await wiring_of(app).store.get(key)

    assert entry is not None and entry.error is not None and "70003" in entry.error
    assert usersigs
    assert_hidden(caplog.text + entry.error, [*usersigs, KEY, TOKEN, LLM_KEY])


def test_settings_repr_and_dump_hide_url_passwords(settings: Settings) -> None:
    leaky = settings.model_copy(
        update={
            "llm_base_url": "https://bob:llm-url-password-123@llm.test/v1",
            "store": "redis://:redis-password-456@cache.test:6379/0",
        }
    )

    shown = repr(leaky) + str(leaky) + repr(leaky.model_dump()) + leaky.model_dump_json()

    assert "https://bob:***@llm.test/v1" in shown
    assert "redis://:***@cache.test:6379/0" in shown
    assert_hidden(shown, ["llm-url-password-123", "redis-password-456", KEY, TOKEN])
    assert "redis-password-456" in leaky.secrets()


def test_a_bad_robots_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as failure:
        load_settings(sdkappid=1, key=KEY, robots=f"@RBT#001,{LLM_KEY}")

    assert "BOTKIT_ROBOTS" in str(failure.value)
    assert "entry 2" in str(failure.value)
    assert_hidden(str(failure.value), [LLM_KEY, KEY])


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "GET /v4/x?usersig=eJwtjVELgjAUhf-Secret1234567890abc&random=1",
            "eJwtjVELgjAUhf-Secret1234567890abc",
        ),
        ("url=%2Fv4%2Fx%3Fusersig%3DeJyrVkqtKMgvKs4sUrJSMjQ1MDQ2sDQ&x", "eJyrVkqtKMgvKs4sUrJSMjQ1MDQ2sDQ"),
        ("Authorization: Bearer sk-abcdefghijklmnop", "sk-abcdefghijklmnop"),
        ("redis://:hunter2-hunter2@host:6379/0", "hunter2-hunter2"),
        (
            "/im?SdkAppid=1&RequestTime=1&Sign=0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        ),
        (f"prefix only: {KEY[:10]}", KEY[:10]),
    ],
)
def test_scrub_masks_each_kind_of_secret(text: str, secret: str) -> None:
    register_secrets([KEY])

    assert secret not in scrub(text)
    assert "***" in scrub(text)


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "design=ok; sign up at https://example.com/path?q=1; hello\nworld"

    assert scrub(text) == text
    assert escape_controls("a\nb\r\u2028\x1b") == "a\\nb\\r\\u2028\\x1b"


def test_a_signed_callback_url_in_the_access_log_is_masked(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_log_scrubber()
    # uvicorn's own logging config (set up by an earlier test running `serve`) stops propagation.
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "handlers", [caplog.handler])
    sign = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
    path = f"/im?SdkAppid=1&CallbackCommand=Bot.OnC2CMessage&RequestTime=1669872112&Sign={sign}"

    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5", "POST", path, "1.1", 200
        )

    assert "Sign=***" in caplog.text
    assert_hidden(caplog.text, [sign])


def test_a_traceback_is_scrubbed_too(caplog: pytest.LogCaptureFixture) -> None:
    install_log_scrubber([LLM_KEY])
    try:
        raise RuntimeError(f"upstream said: bad key {LLM_KEY}")
    except RuntimeError:
        logging.getLogger("botkit.test").exception("it failed")

    assert "RuntimeError: upstream said: bad key ***" in caplog.text
    assert_hidden(caplog.text, [LLM_KEY])


def test_a_too_short_secret_does_not_mask_ordinary_words() -> None:
    register_secrets(["k", "abc"])

    assert scrub("keep the intake working") == "keep the intake working"
    assert scrub("the key is short6 here", secrets=["short6"]) == "the key is *** here"
