"""botkit: AI chatbots on Tencent Cloud Chat.

Follow one message through the package: `webhook` (check and ack) → `intake` (journal, workers)
→ `handler` (conversation, model, replies) → `restapi` (send as the robot).
"""

from botkit.app import Wiring, create_app, wiring_of
from botkit.callbacks import C2CMessage, CallbackCommand, GroupMessage, dump_callback, parse_callback
from botkit.config import Settings, load_settings
from botkit.elements import MsgBody, TextElem, body_text, text_body
from botkit.errors import (
    BotkitError,
    CallbackError,
    ChatAPIError,
    ChatError,
    ChatTransportError,
    ConfigError,
    LLMError,
    LLMUnavailable,
    UserSigError,
)
from botkit.handler import Handler
from botkit.llm import ChatMessage, Provider, complete, get_provider
from botkit.logmask import scrub
from botkit.responder import Responder
from botkit.restapi import ChatClient
from botkit.signature import sign_callback, verify_callback
from botkit.usersig import UserSigCache, decode_usersig, generate_usersig, verify_usersig

__all__ = [
    "BotkitError",
    "C2CMessage",
    "CallbackCommand",
    "CallbackError",
    "ChatAPIError",
    "ChatClient",
    "ChatError",
    "ChatMessage",
    "ChatTransportError",
    "ConfigError",
    "GroupMessage",
    "Handler",
    "LLMError",
    "LLMUnavailable",
    "MsgBody",
    "Provider",
    "Responder",
    "Settings",
    "TextElem",
    "UserSigCache",
    "UserSigError",
    "Wiring",
    "body_text",
    "complete",
    "create_app",
    "decode_usersig",
    "dump_callback",
    "generate_usersig",
    "get_provider",
    "load_settings",
    "parse_callback",
    "scrub",
    "sign_callback",
    "text_body",
    "verify_callback",
    "verify_usersig",
    "wiring_of",
]
