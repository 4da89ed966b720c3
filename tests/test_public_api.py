"""`botkit.__all__` is exactly the public names the package exports."""

import botkit

# Tencent's wire format, public so the sandbox, tests and other bots build it the way botkit reads it.
WIRE_VOCABULARY = {
    "C2CMessage",
    "CallbackCommand",
    "CallbackQuery",
    "Envelope",
    "ErrorCode",
    "GroupAt",
    "GroupMessage",
    "MsgBody",
    "RestCommand",
    "TextElem",
    "body_text",
    "callback_url",
    "dump_callback",
    "mention_text",
    "parse_callback",
    "sign_callback",
    "text_body",
    "verify_callback",
}


def test_all_lists_every_public_name() -> None:
    public = {name for name in vars(botkit) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(botkit, name)).__name__ == "module"}

    assert set(botkit.__all__) == public - modules


def test_all_is_sorted_and_unique() -> None:
    assert list(botkit.__all__) == sorted(set(botkit.__all__))


def test_the_wire_vocabulary_is_public() -> None:
    assert set(botkit.__all__) >= WIRE_VOCABULARY
