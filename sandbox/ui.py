"""The sandbox's chat UI: speak as a user to a robot, 1:1 or in a group, and watch the raw traffic.

It calls the `Backend` in-process (through `UiActions`), so a message sent here takes the same checks
and fires the same callbacks as a REST `sendmsg` from that user. The bot answers through the REST
API on its own time; a one-second timer re-renders the chat and the inspector when the page shows
something else, and the banner (the bot's state, active faults) and the bot's log.
This is the only module that imports Gradio.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

# Gradio reports usage to its makers unless told not to; this must precede the import.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from fastapi import FastAPI
from starlette.routing import Mount

from sandbox.backend import Backend
from sandbox.botchild import BotChild
from sandbox.uiactions import Choices, Keep, UiActions
from sandbox.uiviews import TRAFFIC_HEADERS

INTRO = (
    "## botkit sandbox\n"
    "A local fake of Tencent Cloud Chat. Pick who you are and a robot (or a group with one), then "
    "chat: your message fires a signed robot callback to the bot, whose reply comes back over REST."
)
MODEL_NOTE = (
    "Note: the embedded model (SmolLM2-135M) is tiny: good for checking the plumbing, poor at facts, "
    "and its Chinese is meaningless. Set `BOTKIT_LLM` to `openai` or `minimax` for real answers."
)
ROBOTS_NOTE = "The bot answers only the robots named in its `BOTKIT_ROBOTS`."
# The chatbot's trash button would blank the view only until the next refresh: hide it.
CSS = """
.gradio-container { max-width: 1500px !important; }
.note, .status { font-size: 0.85em; opacity: 0.8; }
#chat button[aria-label="Clear"] { display: none; }
"""
# Off the queue: the handlers are quick, and Gradio's queue stream can lose a result when it closes
# just as a timer tick joins, after which that browser tab never ticks again.
EVENT_OPTIONS: Mapping[str, Any] = MappingProxyType({"show_progress": "hidden", "queue": False})


def _update(value: Any) -> Any:
    if value is Keep.SHOWN:
        return gr.skip()
    if isinstance(value, Choices):
        return gr.Dropdown(choices=value.options, value=value.value)
    return value


def _gradio(handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler` with its plain results turned into Gradio updates; async stays async (event loop)."""

    def convert(result: Any) -> Any:
        return tuple(map(_update, result)) if isinstance(result, tuple) else _update(result)

    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def run_async(*args: Any) -> Any:
            return convert(await handler(*args))

        return run_async

    @functools.wraps(handler)
    def run(*args: Any) -> Any:
        return convert(handler(*args))

    return run


def _theme() -> Any:
    # Soft ships its fonts with Gradio: the page asks no outside host (such as Google Fonts) for them.
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate")


@dataclass
class _ChatPanel:
    user: Any
    target: Any
    new_user: Any
    add_user: Any
    group_name: Any
    add_group: Any
    chatbot: Any
    message: Any
    send: Any
    status: Any


def _chat_panel() -> _ChatPanel:
    with gr.Row():
        user = gr.Dropdown(label="You are")
        target = gr.Dropdown(label="Chat with")
    with gr.Row(equal_height=True):
        new_user = gr.Textbox(placeholder="new user ID", container=False, scale=3, min_width=90)
        add_user = gr.Button("Add user", size="sm", scale=1, min_width=80)
        group_name = gr.Textbox(placeholder="group name", container=False, scale=3, min_width=90)
        add_group = gr.Button("New group", size="sm", scale=1, min_width=90)
    chatbot = gr.Chatbot(
        label="Conversation",
        height=460,
        layout="bubble",
        feedback_options=None,
        buttons=["copy_all"],
        placeholder="No messages yet: say hello to the robot.",
        elem_id="chat",
    )
    with gr.Row(equal_height=True):
        message = gr.Textbox(
            show_label=False, placeholder="Message (Enter sends)", scale=6, elem_id="message"
        )
        send = gr.Button("Send", variant="primary", scale=1, min_width=90)
    status = gr.Markdown(elem_classes="status")
    gr.Markdown(MODEL_NOTE, elem_classes="note")
    return _ChatPanel(user, target, new_user, add_user, group_name, add_group, chatbot, message, send, status)


@dataclass
class _InspectorTab:
    kind: Any
    clear: Any
    table: Any
    detail: Any


def _inspector_tab() -> _InspectorTab:
    with gr.Row(equal_height=True):
        kind = gr.Radio(["all", "callback", "rest"], value="all", show_label=False, container=False, scale=4)
        clear = gr.Button("Clear", size="sm", scale=1, min_width=80)
    # Wrapped, and the result column wide: a reason cut to "dropp…" says nothing.
    table = gr.Dataframe(
        headers=list(TRAFFIC_HEADERS),
        interactive=False,
        max_height=260,
        wrap=True,
        column_widths=["5%", "12%", "12%", "26%", "7%", "8%", "30%"],
        elem_id="traffic",
    )
    detail = gr.JSON(label="Entry (click a row; newest shown)", open=True, max_height=420, elem_id="detail")
    return _InspectorTab(kind, clear, table, detail)


@dataclass
class _SettingsTab:
    fields: list[Any]
    """webhook URL, auth on, token, summary, robots: the outputs of `UiActions.settings`."""
    save: Any
    robot_id: Any
    robot_nick: Any
    add_robot: Any
    status: Any


def _settings_tab() -> _SettingsTab:
    summary = gr.Markdown()
    webhook = gr.Textbox(label="Webhook URL", placeholder="http://127.0.0.1:8000/im")
    auth_on = gr.Checkbox(label="Callback auth (Sign and RequestTime on every callback)")
    token = gr.Textbox(label="Callback token", type="password", placeholder="blank keeps it")
    save = gr.Button("Save", variant="primary")
    status = gr.Markdown(elem_classes="status")
    robots = gr.Dataframe(headers=["Robot", "Nick"], interactive=False, label="Robots")
    with gr.Row(equal_height=True):
        robot_id = gr.Textbox(placeholder="new robot, e.g. @RBT#002", container=False, scale=3)
        robot_nick = gr.Textbox(placeholder="nick", container=False, scale=2)
        add_robot = gr.Button("Create robot", size="sm", scale=1, min_width=110)
    gr.Markdown(ROBOTS_NOTE, elem_classes="note")
    return _SettingsTab(
        [webhook, auth_on, token, summary, robots], save, robot_id, robot_nick, add_robot, status
    )


@dataclass
class _FaultsTab:
    fields: list[Any]
    """The inputs of `apply_faults`, in its order."""
    summary: Any
    apply: Any


def _faults_tab() -> _FaultsTab:
    summary = gr.Markdown()
    with gr.Row():
        delay = gr.Number(label="Delay callbacks (s)", minimum=0, maximum=60)
        delay_rate = gr.Slider(0, 1, step=0.05, label="Share of callbacks delayed")
    with gr.Row():
        drop = gr.Slider(0, 1, step=0.05, label="Drop rate")
        duplicate = gr.Slider(0, 1, step=0.05, label="Duplicate rate")
        reorder = gr.Slider(0, 1, step=0.05, label="Reorder rate")
    with gr.Row():
        retries = gr.Number(label="Retries on timeout", minimum=0, maximum=5, precision=0)
        rate = gr.Slider(0, 1, step=0.05, label="REST failure rate")
        code = gr.Number(label="REST failure ErrorCode", precision=0)
    apply = gr.Button("Apply", variant="primary")
    fields = [delay, delay_rate, drop, duplicate, reorder, retries, rate, code]
    return _FaultsTab(fields, summary, apply)


def build_ui(backend: Backend, bot: BotChild | None = None) -> gr.Blocks:
    """The UI over `sandbox`: chat on the left; inspector, settings, faults and the bot's log in tabs
    on the right; over both, the bot's state and a warning while faults are on."""
    act = UiActions(backend, bot)
    blocks = gr.Blocks(title="botkit sandbox")
    with blocks:
        # The digest of the chat shown and the traffic version shown live in the page, written by the
        # same response as the chat and the table. In a gr.State (kept on the server) they could claim
        # a newer view than the page has when two responses land out of order, and the timer would
        # then keep the stale chat for good.
        shown = gr.Textbox("", visible="hidden", show_label=False, container=False)
        seen = gr.Number(-1, precision=0, visible="hidden", show_label=False, container=False)
        selected = gr.State(None)
        gr.Markdown(INTRO)
        banner = gr.Markdown(act.banner(), elem_id="banner")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                chat = _chat_panel()
            with gr.Column(scale=6), gr.Tabs():
                with gr.Tab("Inspector"):
                    inspector = _inspector_tab()
                with gr.Tab("Settings"):
                    settings = _settings_tab()
                with gr.Tab("Faults"):
                    faults = _faults_tab()
                with gr.Tab("Bot"):
                    bot_log = gr.Code(
                        act.bot_log(),
                        language=None,
                        label="botkit serve output",
                        lines=24,
                        max_lines=24,
                        wrap_lines=True,
                        elem_id="botlog",
                    )
        timer = gr.Timer(1.0)

        def on(trigger: Any, handler: Callable[..., Any], inputs: Any, outputs: Any) -> Any:
            return trigger(_gradio(handler), inputs, outputs, **EVENT_OPTIONS)

        def select_entry(kind: str, event: gr.SelectData) -> tuple[int, dict[str, Any]]:
            return act.select(kind, int(event.row_value[0]))

        who = [chat.user, chat.target]
        chat_io = ([*who, shown], [chat.chatbot, shown])
        inspector_out = [inspector.table, inspector.detail, seen]
        with_status = [*settings.fields, settings.status]

        on(blocks.load, act.identities, chat.user, chat.user).then(
            _gradio(act.targets), who, chat.target, **EVENT_OPTIONS
        )
        on(blocks.load, act.settings, None, settings.fields)
        on(blocks.load, act.faults, None, [*faults.fields, faults.summary])
        on(chat.user.change, act.targets, who, chat.target).then(_gradio(act.chat), *chat_io, **EVENT_OPTIONS)
        on(chat.target.change, act.chat, *chat_io)
        for trigger in (chat.message.submit, chat.send.click):
            on(trigger, act.send, [*who, chat.message], [chat.message, chat.status]).then(
                _gradio(act.chat), *chat_io, **EVENT_OPTIONS
            )
        for trigger in (chat.new_user.submit, chat.add_user.click):
            on(trigger, act.create_user, chat.new_user, [chat.user, chat.new_user, chat.status])
        on(
            chat.add_group.click,
            act.create_group,
            [*who, chat.group_name],
            [chat.target, chat.group_name, chat.status],
        )
        on(
            timer.tick,
            act.tick,
            [*chat_io[0], seen, selected, inspector.kind],
            [*chat_io[1], *inspector_out, banner, bot_log],
        )
        on(inspector.kind.change, act.inspector, [selected, inspector.kind], inspector_out)
        inspector.table.select(select_entry, inspector.kind, [selected, inspector.detail], **EVENT_OPTIONS)
        on(inspector.clear.click, act.clear_traffic, inspector.kind, [*inspector_out, selected])
        on(settings.save.click, act.save_settings, settings.fields[:3], with_status)
        on(
            settings.add_robot.click, act.create_robot, [settings.robot_id, settings.robot_nick], with_status
        ).then(_gradio(act.targets), who, chat.target, **EVENT_OPTIONS)
        on(faults.apply.click, act.apply_faults, faults.fields, faults.summary).then(
            _gradio(act.banner), None, banner, **EVENT_OPTIONS
        )
    return blocks


def mount_ui(app: FastAPI, backend: Backend, bot: BotChild | None = None) -> Callable[[], None]:
    """Serve the UI at "/" of `app`; the function that ends its endless streams (each open tab
    holds a heartbeat stream), for a quick stop. Mount it after the REST and control routes: a
    mount at "/" catches every path not routed before it."""
    gr.mount_gradio_app(
        app, build_ui(backend, bot), path="/", theme=_theme(), css=CSS, ssr_mode=False, footer_links=[]
    )
    mounted = app.routes[-1]
    if not isinstance(mounted, Mount) or not hasattr(mounted.app, "stop_event"):
        raise TypeError("gradio's app is not the last route: mount_gradio_app changed")
    stop: Callable[[], None] = mounted.app.stop_event.set
    return stop
