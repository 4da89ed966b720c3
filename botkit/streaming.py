"""Streamed replies (`BOTKIT_STREAM`): the answer appears in the chat as the model writes it.

`StreamReplies.answer` is how the `Handler`'s default answer asks the model. It returns the text
still to send whole: the answer itself when streaming is off or nothing could be shown before the
model finished, else whatever a long answer left over (usually nothing). The modes' REST calls are
in `streamsinks`; a group falls back to `edit` where a mode is 1:1 only, an AVChatRoom (no modify,
no streams) gets whole replies.

Tencent's rules (protocol.md §6) and how they are kept:
- at most 5 continuation calls per second per stream: one call per `PACE_SECONDS` (250 ms, so 4/s,
  measured from the end of the previous call), the text in between is buffered;
- never a gap above 15 s: a keep-alive (an empty chunk) after `KEEPALIVE_SECONDS` without text;
- under 128 KB a stream and 12 KB a call: each streamed message holds at most `SEGMENT_BYTES`, the
  rest of a longer answer goes into the next message; edits at most one a second.

Crash safety: the progress (`StreamState`) is journalled with `Store.save_stream` before a message
opens and after every call. Whoever resumes the entry closes the stream: with the whole answer when
the journal has it, else with what was shown and `CUT_NOTE`. A stream Tencent may have ended already
(idle for `SERVER_END_SECONDS`), or one that refused a write, is never written again; what it could
not show is sent whole. A failing model ends the stream the same way, with the note.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from botkit.callbacks import C2CMessage, GroupMessage
from botkit.config import Settings
from botkit.errors import LoopedAnswer
from botkit.leases import Lease
from botkit.responder import Answer
from botkit.restapi import ChatClient
from botkit.store.base import JournalEntry, Store
from botkit.streamrun import CUT_NOTE, Sleep, StreamRun, StreamState, StreamTools
from botkit.streamsinks import SinkMode, Where, send_typing
from botkit.streamtext import LiveText, Tap

log = logging.getLogger("botkit.streaming")

Ask = Callable[[Tap | None], Awaitable[Answer]]
"""Asks the model for the answer, with the stream's tap on the provider (None: not streamed)."""

TYPING_AFTER = 1.0
TYPING_EVERY = 5.0


class StreamReplies:
    """Answers with the configured stream mode; `clock` (wall time) and `sleep` are injectable."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        chat: ChatClient,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.tools = StreamTools(chat=chat, store=store, clock=clock, sleep=sleep)

    def mode_for(self, message: C2CMessage | GroupMessage) -> SinkMode | None:
        """The mode a reply to `message` streams in, or None to send it whole."""
        mode = self.settings.stream
        if mode == "off":
            return None
        if isinstance(message, GroupMessage):
            if message.type == "AVChatRoom":
                return None
            if mode == "robot":
                return "edit"
        return mode

    async def answer(
        self,
        entry: JournalEntry,
        lease: Lease,
        message: C2CMessage | GroupMessage,
        robot: str,
        ask: Ask,
    ) -> tuple[Answer, str]:
        """`ask` the model for `entry`, streaming where the mode says: the answer, and the text
        still to send whole ("" when the stream showed it all)."""
        where = Where.of(message, robot)
        mode = self.mode_for(message)
        live = LiveText() if mode is not None else None
        typing = asyncio.create_task(self._typing(where, live)) if where.user is not None else None
        try:
            if mode is None or live is None:
                answer = await ask(None)
                return answer, answer.text
            run = StreamRun(self.tools, entry, lease, where, StreamState(mode=mode), live)
            return await self._stream(run, live, ask)
        finally:
            if typing is not None:
                typing.cancel()

    async def resume(
        self, entry: JournalEntry, lease: Lease, message: C2CMessage | GroupMessage, robot: str
    ) -> str:
        """Close the stream a crashed attempt left open; the text still to send whole."""
        assert entry.stream is not None, "only an entry with a journalled stream is resumed"
        state = StreamState.model_validate_json(entry.stream)
        return await StreamRun(self.tools, entry, lease, Where.of(message, robot), state).resume()

    async def _stream(self, run: StreamRun, live: LiveText, ask: Ask) -> tuple[Answer, str]:
        pump = asyncio.create_task(run.pump())
        try:
            answer = await ask(live.tap)
            live.end()
            run.final.set_result(final_text(answer, live, run.state.mode))
            leftover = await pump
        finally:
            pump.cancel()
        if leftover is None:
            return answer, answer.text  # done before anything could be shown: sent whole, as unstreamed
        log.info("streamed the answer to %s in %d message(s)", run.entry.key, run.state.segment + 1)
        return answer, leftover

    async def _typing(self, where: Where, live: LiveText | None) -> None:
        """Send "typing…" while the model thinks and nothing is shown yet (1:1 only; TUIKit's signal)."""
        await self.tools.sleep(TYPING_AFTER)
        while live is None or not (live.done or live.shown()):
            await send_typing(self.tools.chat, where)
            await self.tools.sleep(TYPING_EVERY)


def final_text(answer: Answer, live: LiveText, mode: SinkMode) -> str:
    """What a stream ends with: the answer; on a failure the text shown and `CUT_NOTE`; a loop cut
    short is shown cut where edits allow it, else as far as it was streamed."""
    shown = live.shown()
    if live.failed is None:
        return answer.text
    if isinstance(live.failed, LoopedAnswer):
        return answer.text if mode == "edit" or not shown else shown
    return f"{shown}\n\n{CUT_NOTE}" if shown else answer.text
