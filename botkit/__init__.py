"""botkit: AI chatbots on Tencent Cloud Chat.

Follow one message through the package: `webhook` (check and ack) → `intake` (journal, workers)
→ `handler` (conversation, model, replies) → `restapi` (send as the robot).
"""

from botkit.app import create_app
from botkit.callbacks import (
    C2CMessage,
    CallbackCommand,
    CallbackQuery,
    GroupMessage,
    callback_url,
    dump_callback,
    parse_callback,
)
from botkit.config import Settings, load_settings
from botkit.elements import MsgBody, TextElem, body_text, mention_text, text_body
from botkit.errorcodes import ErrorCode
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
from botkit.responder import Responder
from botkit.restapi import ChatClient
from botkit.restmodels import Envelope, RestCommand
from botkit.restrequests import GroupAt
from botkit.signature import sign_callback, verify_callback
from botkit.usersig import UserSigCache, decode_usersig, generate_usersig, verify_usersig

__all__ = [
    "BotkitError",
    "C2CMessage",
    "CallbackCommand",
    "CallbackError",
    "CallbackQuery",
    "ChatAPIError",
    "ChatClient",
    "ChatError",
    "ChatMessage",
    "ChatTransportError",
    "ConfigError",
    "Envelope",
    "ErrorCode",
    "GroupAt",
    "GroupMessage",
    "Handler",
    "LLMError",
    "LLMUnavailable",
    "MsgBody",
    "Provider",
    "Responder",
    "RestCommand",
    "Settings",
    "TextElem",
    "UserSigCache",
    "UserSigError",
    "body_text",
    "callback_url",
    "complete",
    "create_app",
    "decode_usersig",
    "dump_callback",
    "generate_usersig",
    "get_provider",
    "load_settings",
    "mention_text",
    "parse_callback",
    "sign_callback",
    "text_body",
    "verify_callback",
    "verify_usersig",
]
