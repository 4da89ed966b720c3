"""One streamed reply's run: open a message, follow the model within Tencent's rules, close it;
and the same for a run a crashed process left in the journal (`StreamState`). See `streaming`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from botkit.errors import ChatAPIError, ChatError
from botkit.leases import Lease
from botkit.replies import MAX_PART_BYTES
from botkit.restapi import ChatClient
from botkit.store.base import JournalEntry, Store
from botkit.streamsinks import Sink, SinkMode, Where, make_sink
from botkit.streamtext import LiveText, fit, has_sentence, utf8_size

log = logging.getLogger("botkit.streaming")

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

PACE_SECONDS: dict[SinkMode, float] = {"robot": 0.25, "native": 0.25, "edit": 1.0}
KEEPALIVE_SECONDS = 10.0
SERVER_END_SECONDS = 12.0
"""On resume, a stream idle this long is taken as ended by Tencent (which ends it after 15 s)."""
EDIT_FIRST_WAIT = 1.0
"""Edit mode sends its first message at the first sentence end, or this long after the first text."""
# CompatibleText (the text so far) and the chunk share a native call's 12 KB, hence half for native.
SEGMENT_BYTES: dict[SinkMode, int] = {"robot": MAX_PART_BYTES, "native": 5632, "edit": MAX_PART_BYTES}
CUT_NOTE = "⚠️ The answer was interrupted here. Please ask again."


@dataclass(frozen=True)
class StreamTools:
    """What a run works with: the REST client, the journal, and the (injectable) clock and sleep."""

    chat: ChatClient
    store: Store
    clock: Callable[[], float]
    sleep: Sleep


class StreamState(BaseModel):
    """A streamed reply's journalled progress. `shown` is all the text shown so far, the current
    message shows `shown[offset:]`; `final` is the whole answer once known."""

    mode: SinkMode
    segment: int = 0
    offset: int = 0
    shown: str = ""
    handle: str | None = None
    index: int = 0
    written_at: float = 0.0
    final: str | None = None
    closed: bool = False
    leftover: str = ""


class StreamRun:
    """One reply's stream: opening, following the model, closing; also resuming a journalled one."""

    def __init__(
        self,
        tools: StreamTools,
        entry: JournalEntry,
        lease: Lease,
        where: Where,
        state: StreamState,
        live: LiveText | None = None,
    ) -> None:
        self.tools, self.entry, self.lease, self.where = tools, entry, lease, where
        self.state, self.live = state, live
        self.final: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.budget = SEGMENT_BYTES[state.mode]
        self.pace = PACE_SECONDS[state.mode]
        self.diverged = False

    @property
    def sink(self) -> Sink:
        """The sink of the current message (a new one after an overflow)."""
        state = self.state
        return make_sink(state.mode, self.tools.chat, self.where, key=self.entry.key, segment=state.segment)

    # -- live --------------------------------------------------------------------------------------

    async def pump(self) -> str | None:
        """Stream the answer; None when the model finished before anything was shown."""
        if not await self._wait_to_open():
            return None
        assert self.live is not None
        try:
            await self._open(self.live.shown())
            await self._follow()
        except ChatAPIError as exc:
            self._refused(exc)
        except ChatError as exc:
            log.warning("%s: stream paused (%s); closing it once the answer is done", self.entry.key, exc)
        return await self.close(await self.final)

    async def _wait_to_open(self) -> bool:
        live = self.live
        assert live is not None
        first_at: float | None = None
        while True:
            live.changed.clear()
            if live.done:
                return False
            text, timeout = live.shown(), None
            if text:
                if self.state.mode != "edit" or has_sentence(text) or utf8_size(text) > self.budget:
                    return True
                now = self.tools.clock()
                first_at = first_at if first_at is not None else now
                timeout = first_at + EDIT_FIRST_WAIT - now
                if timeout <= 0:
                    return True
            await self._wait(live.changed, timeout)

    async def _follow(self) -> None:
        live, state = self.live, self.state
        assert live is not None
        while True:
            await self._sleep(state.written_at + self.pace - self.tools.clock())
            live.changed.clear()
            text = live.shown()
            if len(text) > len(state.shown) and not self.diverged:
                await self._grow(text)
                continue
            if live.done:
                return
            timeout = None
            if state.mode != "edit":
                timeout = state.written_at + KEEPALIVE_SECONDS - self.tools.clock()
                if timeout <= 0:
                    await self._call(self.sink.grow(state.handle or "", state.index + 1, self._segment(), ""))
                    state.index += 1
                    await self._save()
                    continue
            await self._wait(live.changed, timeout)

    async def _grow(self, text: str) -> None:
        state = self.state
        if not text.startswith(state.shown) and state.mode != "edit":
            log.warning("%s: the shown text changed; the rest arrives with the end", self.entry.key)
            self.diverged = True
            return
        segment = text[state.offset :]
        if utf8_size(segment) <= self.budget:
            delta = self._delta(segment)
            await self._call(self.sink.grow(state.handle or "", state.index + 1, segment, delta))
            state.index, state.shown = state.index + 1, text
            await self._save()
            return
        end = state.offset + max(fit(segment, self.budget), len(state.shown) - state.offset)
        await self._close_segment(text[state.offset : end])
        state.shown = text[:end]
        rest = text[end:]
        state.segment, state.offset = state.segment + 1, end + len(rest) - len(rest.lstrip())
        state.handle, state.index, state.closed = None, 0, False
        await self._open(text)

    async def _open(self, text: str) -> None:
        """Open message `segment` with as much of `text[offset:]` as it takes (journalled first)."""
        state = self.state
        piece = text[state.offset :]
        piece = piece[: fit(piece, self.budget)]
        state.shown = text[: state.offset] + piece
        await self._save()
        state.handle = await self._call(self.sink.open(piece))
        state.index = 1
        await self._save()

    # -- closing, live or on resume ---------------------------------------------------------------

    async def close(self, final: str) -> str:
        """End the stream with `final`; returns the text that did not fit, to send whole."""
        state = self.state
        state.final = final
        await self._save()
        try:
            if not state.closed and state.handle is None:
                await self._reopen()
            if not state.closed:
                target = final[state.offset :] if final.startswith(state.shown[: state.offset]) else ""
                segment = self._segment()
                if state.mode != "edit" and not target.startswith(segment):
                    target = segment  # a stream cannot take back what it showed
                cut = fit(target, self.budget)
                if state.mode != "edit":
                    cut = max(cut, len(segment))
                await self._close_segment(target[:cut])
                state.shown = state.shown[: state.offset] + target[:cut]
        except ChatAPIError as exc:
            self._refused(exc)
        state.leftover = final[len(state.shown) :].lstrip() if final.startswith(state.shown) else ""
        await self._save()
        return state.leftover

    async def resume(self) -> str:
        """Finish a stream a previous attempt left: close it, or report what is left to send whole."""
        state = self.state
        if state.closed and state.final is not None:
            return state.leftover
        idle = self.tools.clock() - state.written_at
        if state.handle is not None and state.mode != "edit" and idle > SERVER_END_SECONDS:
            state.closed = True  # Tencent has ended it (or is about to): it must not be written again
        # The call after the last journalled one may have reached Tencent: skip its Index, so the
        # end is not taken for a retry of it.
        state.index += 1
        final = state.final if state.final is not None else f"{state.shown}\n\n{CUT_NOTE}"
        log.info("%s: closing a stream an earlier attempt left open", self.entry.key)
        return await self.close(final)

    async def _reopen(self) -> None:
        """Open the current message again after an open whose answer never came: a resend with the
        same randoms finds the message it made (edit, native); a robot stream has no such key."""
        log.info("%s: opening again a message whose first call may not have arrived", self.entry.key)
        state = self.state
        state.handle = await self._call(self.sink.open(self._segment()))
        state.index = 1
        await self._save()

    async def _close_segment(self, text: str) -> None:
        state = self.state
        await self._call(self.sink.close(state.handle or "", state.index + 1, text, self._delta(text)))
        state.index += 1
        state.closed = True
        await self._save()

    def _refused(self, exc: ChatAPIError) -> None:
        """Tencent refused a write (the stream ended, a body too big): never write to it again."""
        log.warning("%s: the stream was refused (%s); the rest is sent whole", self.entry.key, exc)
        state = self.state
        if state.handle is None:
            state.shown = state.shown[: state.offset]  # it never opened: nothing of it is shown
        state.closed = True

    def _delta(self, text: str) -> str:
        """What a call adds to the current message to make it show `text`: the new end for a stream;
        for an edit the whole text, or nothing when it is unchanged."""
        segment = self._segment()
        if self.state.mode == "edit":
            return text if text != segment else ""
        return text[len(segment) :]

    # -- plumbing ---------------------------------------------------------------------------------

    def _segment(self) -> str:
        return self.state.shown[self.state.offset :]

    async def _call(self, call: Awaitable[T]) -> T:
        """One REST call of the stream, under the lease; the state records when it ended."""
        try:
            await self.lease.ensure()
            result = await call
        except BaseException:
            if asyncio.iscoroutine(call):
                call.close()
            raise
        self.state.written_at = self.tools.clock()
        return result

    async def _save(self) -> None:
        await self.tools.store.save_stream(
            self.entry.key, self.state.model_dump_json(), token=self.entry.token
        )

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            await self.tools.sleep(seconds)

    async def _wait(self, event: asyncio.Event, timeout: float | None) -> None:
        """Until `event` is set or `timeout` seconds pass (on the injected clock)."""
        if event.is_set():
            return
        waiter = asyncio.ensure_future(event.wait())
        if timeout is None:
            await waiter
            return
        timer = asyncio.ensure_future(self._sleep(timeout))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()
