"""The ``eliza-messaging`` command: ``serve``, ``chat`` and ``doctor``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from . import logs
from .commands.chat import chat
from .commands.doctor import doctor
from .config import Settings


def _plain_help(params: list[Any]) -> list[Any]:
    """Help that names each value by its metavar (``--port PORT``), without typer's ``<str>``/``<bool>`` tags.

    Typer 0.29 prints the Python type of every parameter beside it, flags and ``--help`` included;
    a flag needs no value, an argument is already named by its metavar, and an option's metavar
    says what to give better than its type.
    """
    for param in params:
        if isinstance(param, TyperArgument) or getattr(param, "is_flag", False) or getattr(param, "count", False):
            shown = None
        else:
            shown = param.metavar or (param.name or "value").upper()
        if hasattr(param, "display_type_rich"):
            param.display_type_rich = lambda ctx, shown=shown: shown
    return params


class PlainHelpCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:  # typer's own (vendored) click types
        return _plain_help(super().get_params(ctx))


class PlainHelpGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:  # typer's own (vendored) click types
        return _plain_help(super().get_params(ctx))


cli = typer.Typer(
    cls=PlainHelpGroup, add_completion=False, no_args_is_help=True, help="The ElizaOS real-time messaging server."
)


@cli.callback()
def _root() -> None:
    """eliza-messaging: Socket.IO messaging for ElizaOS agents."""


def event_loop() -> str:
    """uvloop when it is installed (uvicorn[standard] brings it everywhere but Windows), else asyncio's."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def web_chat_url(settings: Settings) -> str | None:
    """Where a browser on this machine finds the web chat (None when it is turned off)."""
    if not settings.ui_enable:
        return None
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"  # every address: this machine's own name works in its browser
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/"


@cli.command(cls=PlainHelpCommand)
def serve(
    host: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Listen address (SERVER_HOST, default 0.0.0.0)")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Listen port (SERVER_PORT, default 3000)")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Where the SQLite memory lives (ELIZA_DATA_DIR, default ./.eliza-data)"),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(metavar="LEVEL", help="debug shows every Socket.IO event in and out (LOG_LEVEL, default info)"),
    ] = None,
    character: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE",
            help="A character JSON file (repeatable; ELIZA_CHARACTERS); default: the classic Eliza",
        ),
    ] = None,
) -> None:
    """Start the server with the embedded defaults (SQLite, in-process fanout and queue)."""
    import uvicorn

    from .app import build_graceful_stop, create_app
    from .gateway.shutdown import GracefulServer

    overrides: dict[str, Any] = {
        k: v
        for k, v in {"host": host, "port": port, "data_dir": data_dir, "log_level": log_level}.items()
        if v is not None
    }
    if character:
        overrides["characters"] = [str(p) for p in character]
    settings = Settings(**overrides)
    logs.configure(settings.log_level)
    app = create_app(settings)
    typer.echo(
        f"eliza-messaging listening on http://{settings.host}:{settings.port} (data in {settings.data_dir.resolve()})",
        err=True,
    )
    chat_url = web_chat_url(settings)
    if chat_url:
        typer.echo(f"Web chat: {chat_url}", err=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=settings.log_level.lower() == "debug",
        # chosen, not left to "auto" (whose choice depends on the uvicorn version): uvloop where it
        # exists (not on Windows), httptools, and the sans-I/O websockets protocol, without deflate
        loop=event_loop(),
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=settings.max_frame_bytes,  # a bigger frame is refused while read, not after
        lifespan="on",
        # After the graceful stop (gateway/shutdown.py) every socket is closed; what is left is plain
        # HTTP, and a long-polling request can stay open for a whole ping cycle: do not wait for it.
        timeout_graceful_shutdown=3,
    )
    server = GracefulServer(config, build_graceful_stop(app.components))
    server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn's code for a server that could not start


cli.command(cls=PlainHelpCommand)(chat)
cli.command(cls=PlainHelpCommand)(doctor)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
