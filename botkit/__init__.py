"""botkit: AI chatbots on Tencent Cloud Chat.

The path of one message, in order (`app.create_app` wires it; `botkit serve` runs it under
`serving`, with `config.Settings` read once):

 1. `webhook`       Tencent POSTs the callback: source allowed, `SdkAppid` ours, `signature` checks
                    `Sign` and `RequestTime`, `callbacks` parses the body (`elements` its `MsgBody`)
                    into a `C2CMessage` or `GroupMessage`; anything wrong is a 4xx with the reason.
 2. `intake`        journals it in the `store` under its dedupe key (a repeat adds no work), acks
                    200 at once and hands it to its conversation's lane, answered in arrival order.
 3. `leases`        the lane's task holds the entry under a short lease with a fencing token,
                    renewed while the answer runs; a crashed process's entries resume elsewhere.
 4. `handler`       `Handler.handle`: ignores robots and messages for robots we do not serve, and
                    runs the `bot` on a `context`: middleware, a command, the author's handlers,
                    else the default answer; `ctx.reply` collects what is sent.
 5. `responder`     the model's answer: `limits` (a user's rate and quota, the input cap), then
                    `conversation` (memory key, mentions stripped, the prompt from earlier turns).
 6. `llm`           the provider streams the answer (`llm.chatcompletions` under `openai` and
                    `minimax`, `local`, `echo`; `llm.limit` caps calls at once); a failure or a
                    timeout becomes the fallback reply, and `llm.repetition` stops a looping answer;
                    `tools` runs the bot's tools the model calls, round by round.
 7. `replies`       the replies cleaned and text split under the 12 KB body limit; the parts are saved in
                    the journal, then the exchange is remembered (not fallbacks and notices).
 8. `restapi`       `ChatClient` sends each part as the robot (`sendmsg`, `send_group_msg` with the
                    asker @-mentioned), signed with an admin UserSig (`usersig`), paced by
                    `ratelimit`, retried on retryable codes; `restmodels` types the envelopes; all
                    over the one client from `httpclient`.
 9. `intake`        counts each sent part and marks the entry done, or retries it with backoff.

Beside the path: `errors` (the exception tree), `logmask` (secrets out of every log line),
`logsetup` (log format), `metrics` and `ops` (`/metrics`, `/readyz`), `cli` (the commands).
Off the path, in `botkit.lab`: evaluation (`Handler.reply`: the same answer, not sent), its
reports and suites, notebook helpers, recorded sessions, and the child processes and waits the
notebooks, sandbox and tests share (`processes`, `waiting`, `sandboxprocess`). ARCHITECTURE.md
draws the whole map.
"""

from botkit.app import Wiring, create_app, wiring_of
from botkit.bot import Bot, Next, load_bot
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
from botkit.context import Context
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
from botkit.handler import Handler, Reply
from botkit.llm import ChatMessage, Provider, complete, get_provider
from botkit.logmask import scrub
from botkit.responder import Answer, AnswerKind, Responder
from botkit.restapi import ChatClient
from botkit.restmodels import Envelope, RestCommand
from botkit.restrequests import GroupAt
from botkit.signature import sign_callback, verify_callback
from botkit.usersig import UserSigCache, decode_usersig, generate_usersig, verify_usersig

__all__ = [
    "Answer",
    "AnswerKind",
    "Bot",
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
    "Context",
    "Envelope",
    "ErrorCode",
    "GroupAt",
    "GroupMessage",
    "Handler",
    "LLMError",
    "LLMUnavailable",
    "MsgBody",
    "Next",
    "Provider",
    "Reply",
    "Responder",
    "RestCommand",
    "Settings",
    "TextElem",
    "UserSigCache",
    "UserSigError",
    "Wiring",
    "body_text",
    "callback_url",
    "complete",
    "create_app",
    "decode_usersig",
    "dump_callback",
    "generate_usersig",
    "get_provider",
    "load_bot",
    "load_settings",
    "mention_text",
    "parse_callback",
    "scrub",
    "sign_callback",
    "text_body",
    "verify_callback",
    "verify_usersig",
    "wiring_of",
]
