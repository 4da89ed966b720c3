"""The `botkit` command: serve the webhook, make UserSigs, manage robots, run evaluations."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import shutil
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import click

from botkit.bot import load_bot
from botkit.config import LLMName, Settings, load_settings
from botkit.errors import BotkitError
from botkit.httpclient import create_http_client
from botkit.logsetup import use_log_format
from botkit.restapi import ChatClient
from botkit.usersig import DEFAULT_EXPIRE_SECONDS, generate_usersig

if TYPE_CHECKING:
    from botkit.lab.eval import EvalReport
    from botkit.lab.recording import Replayed

T = TypeVar("T")


class _Group(click.Group):
    """Turns every BotkitError into a plain one-line error and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BotkitError as exc:
            raise click.ClickException(str(exc)) from exc


def configure_logging(level: str, log_format: str = "text") -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    use_log_format(log_format)


@click.group(cls=_Group)
@click.version_option(package_name="botkit")
def cli() -> None:
    """botkit: AI chatbots on Tencent Cloud Chat. Configure with BOTKIT_* variables or a .env file."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--max-connections", type=int, help="Open connections at most [BOTKIT_MAX_CONNECTIONS: 1000].")
@click.option("--read-timeout", type=float, help="Seconds to send a whole request [BOTKIT_READ_TIMEOUT: 10].")
@click.option(
    "--keep-alive-timeout", type=int, help="Idle keep-alive seconds [BOTKIT_KEEP_ALIVE_TIMEOUT: 5]."
)
@click.option("--backlog", type=int, help="Kernel queue of unaccepted connections [BOTKIT_BACKLOG: 2048].")
@click.argument("bot_spec", metavar="[BOT]", required=False)
def serve(host: str, port: int, bot_spec: str | None, **limits: Any) -> None:
    """Run the webhook service (point the console's callback URL at http(s)://HOST:PORT/im).

    BOT is your bot as module:attribute (e.g. mybot:bot, found from this directory); without it,
    the bot is the prompt and model the BOTKIT_* settings give."""
    from botkit.app import create_app
    from botkit.logsetup import limit_log_rate
    from botkit.serving import ServerLimits
    from botkit.serving import serve as run_server

    bot = load_bot(bot_spec) if bot_spec else None  # a typo in BOT fails before anything starts
    settings = load_settings(**{name: value for name, value in limits.items() if value is not None})
    _check_port_free(host, port)
    configure_logging(settings.log_level, settings.log_format)
    limit_log_rate()
    app = create_app(settings, bot=bot)
    run_server(
        app, host=host, port=port, limits=ServerLimits.from_settings(settings), log_level=settings.log_level
    )


@cli.command()
@click.argument("identifier", required=False)
@click.option("--expire", default=DEFAULT_EXPIRE_SECONDS, show_default=True, help="Validity in seconds.")
def usersig(identifier: str | None, expire: int) -> None:
    """Print a UserSig for IDENTIFIER (default: BOTKIT_ADMIN)."""
    settings = load_settings()
    click.echo(generate_usersig(settings.sdkappid, settings.key, identifier or settings.admin, expire))


@cli.group(cls=_Group)
def robot() -> None:
    """Create, list and delete robot accounts (UserIDs starting with @RBT#)."""


@robot.command("create")
@click.argument("user_id")
@click.option("--nick", help="Display name.")
@click.option("--face-url", help="Avatar URL.")
def robot_create(user_id: str, nick: str | None, face_url: str | None) -> None:
    """Create the robot USER_ID (creating an existing one again is harmless)."""
    _with_client(lambda chat: chat.create_robot(user_id, nick=nick, face_url=face_url))
    click.echo(f"created {user_id}")


@robot.command("list")
def robot_list() -> None:
    """List the app's robots."""
    for user_id in _with_client(lambda chat: chat.get_all_robots()):
        click.echo(user_id)


@robot.command("delete")
@click.argument("user_id")
def robot_delete(user_id: str) -> None:
    """Delete the robot USER_ID (Tencent never frees the UserID)."""
    _with_client(lambda chat: chat.delete_robot(user_id))
    click.echo(f"deleted {user_id}")


@cli.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Port for the UI and REST API.")
@click.option("--webhook-url", help="Drive another bot at this URL instead of starting botkit.")
@click.option("--data-dir", default=".sandbox", show_default=True, help="Where the sandbox keeps its state.")
@click.option("--bot", "bot_spec", metavar="MODULE:ATTR", help="Chat with this Bot (e.g. mybot:bot).")
def sandbox(port: int, webhook_url: str | None, data_dir: str, bot_spec: str | None) -> None:
    """Start the local Tencent Chat sandbox with its chat UI (and a botkit bot wired to it)."""
    from botkit.lab.sandboxprocess import sandbox_command

    if importlib.util.find_spec("gradio") is None:
        raise click.ClickException("the sandbox needs its extra: pip install 'botkit[sandbox]'")
    if bot_spec and webhook_url:
        raise click.ClickException("give --bot or --webhook-url, not both")
    if bot_spec:
        load_bot(bot_spec)  # fail here, with the reason, rather than in the sandbox's child
    args = sandbox_command(port=port, data_dir=data_dir, webhook_url=webhook_url, bot=bot_spec)
    # Become the sandbox process (botkit never imports it), so Ctrl-C and SIGTERM reach it and it
    # stops its bot child; a wrapper process would leave that child behind when terminated.
    os.execv(sys.executable, args)


@cli.command("eval")
@click.argument("suite_file", metavar="SUITE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--provider",
    "provider_names",
    multiple=True,
    type=click.Choice(get_args(LLMName)),
    help="A provider to try (repeatable). Default: the one `botkit serve` would use.",
)
@click.option("--prompt", "prompt_names", multiple=True, help="Only this prompt of the suite (repeatable).")
@click.option(
    "--out",
    default="eval-results.json",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results file: CSV when it ends in .csv, else JSON.",
)
@click.option("--bot", "bot_spec", metavar="MODULE:ATTR", help="Evaluate this Bot (e.g. mybot:bot).")
@click.option(
    "--save-best",
    is_flag=True,
    help="Write the winning prompt to .env as BOTKIT_SYSTEM_PROMPT, for `botkit serve`.",
)
def eval_suite(
    suite_file: Path,
    bot_spec: str | None,
    provider_names: tuple[str, ...],
    prompt_names: tuple[str, ...],
    out: Path,
    save_best: bool,
) -> None:
    """Answer the conversations of SUITE with each of its prompts and each provider, and score them
    (as your --bot, with its handlers and tools, when given)."""
    from botkit.lab.eval import load_suite, progress_bar, providers_for, run_suite
    from botkit.lab.eval import save_best as save_best_prompt
    from botkit.llm import default_provider_name

    # Evaluation only talks to the model, never to Chat: placeholder Chat credentials let it run
    # without BOTKIT_SDKAPPID/BOTKIT_KEY, and these settings go nowhere but the evaluation.
    settings = load_settings(sdkappid=1, key="unused-by-eval")
    configure_logging(settings.log_level, settings.log_format)
    suite = load_suite(suite_file).only(prompt_names)
    bot = load_bot(bot_spec) if bot_spec else None
    names = list(provider_names) or [default_provider_name(settings)]

    async def run() -> EvalReport:
        async with create_http_client(settings) as http:
            providers = providers_for(names, settings, http)
            with progress_bar() as progress:
                return await run_suite(suite, settings, providers, progress=progress, bot=bot)

    report = asyncio.run(run())
    click.echo(report.table(width=shutil.get_terminal_size().columns))
    written = report.to_csv(out) if out.suffix.lower() == ".csv" else report.to_json(out)
    choice = report.best()
    click.echo(f"\nbest: {choice}; results in {written}")
    if save_best:
        saved = save_best_prompt(report, suite=str(suite_file))
        if saved.path is None:
            raise click.ClickException(str(saved))
        click.echo(str(saved))
        if settings.robot_prompts:
            click.echo(
                f"note: BOTKIT_ROBOT_PROMPTS still overrides it for {', '.join(settings.robot_prompts)}"
            )


@cli.command()
@click.argument("recording", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "url", required=True, help="The webhook to send to, e.g. http://127.0.0.1:8080/im.")
@click.option(
    "--token",
    envvar="BOTKIT_CALLBACK_TOKEN",
    help="Callback token to sign with (default: BOTKIT_CALLBACK_TOKEN; none: unsigned).",
)
@click.option("--sdkappid", type=int, help="SdkAppid to send (default: the recorded one).")
def replay(recording: Path, url: str, token: str | None, sdkappid: int | None) -> None:
    """Send the callbacks of RECORDING (JSON lines, e.g. from /sandbox/api/recording) to a webhook."""
    from botkit.lab.recording import read_recording, replay_callbacks

    calls = read_recording(recording)

    async def run() -> list[Replayed]:
        async with create_http_client(timeout=10.0) as http:
            return await replay_callbacks(calls, http, url, token=token, sdkappid=sdkappid)

    results = asyncio.run(run())
    for number, result in enumerate(results, start=1):
        answer = result.error or json.dumps(result.answer, ensure_ascii=False)
        click.echo(f"{number} {result.call.command}: {result.status or 'no answer'} {answer}")
    failed = sum(not result.ok for result in results)
    click.echo(f"replayed {len(results)} callbacks to {url}; {failed} not accepted")
    if failed:
        raise SystemExit(1)


def _check_port_free(host: str, port: int) -> None:
    """Fail before the app starts (and says "ready") when uvicorn could not listen there."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {exc.strerror}; stop what runs there or pick another --port"
            ) from None


def _with_client(call: Callable[[ChatClient], Awaitable[T]]) -> T:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)

    async def run(settings: Settings) -> T:
        async with create_http_client(settings) as http:
            return await call(ChatClient.from_settings(settings, http))

    return asyncio.run(run(settings))


def main() -> None:
    cli()
