"""`python -m sandbox`: the entry point."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from sandbox.server import ServerOptions, serve


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port for the UI and REST API.")
@click.option(
    "--data-dir",
    default=".sandbox",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the sandbox keeps its app, state and the bot's store.",
)
@click.option("--webhook-url", help="Send callbacks to the bot at this URL instead of starting botkit.")
@click.option("--bot", metavar="MODULE:ATTR", help="The Bot the botkit serve child serves (e.g. mybot:bot).")
def main(host: str, port: int, data_dir: Path, webhook_url: str | None, bot: str | None) -> None:
    """A local Tencent Cloud Chat with a chat UI, and a `botkit serve` bot wired to it.

    BOTKIT_SDKAPPID, BOTKIT_KEY, BOTKIT_CALLBACK_TOKEN, BOTKIT_ADMIN and BOTKIT_ROBOTS pin the app;
    unset ones are kept from the last run or generated. Other BOTKIT_* variables reach the bot.
    """
    # uvicorn re-raises SIGTERM once it has shut down; as KeyboardInterrupt it reaches the cleanup
    # that stops the bot, instead of killing this process on the spot.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if bot and webhook_url:
        raise click.UsageError("give --bot or --webhook-url, not both")
    options = ServerOptions(host=host, port=port, data_dir=data_dir, webhook_url=webhook_url, bot=bot)
    sys.exit(serve(options))


if __name__ == "__main__":
    main()
