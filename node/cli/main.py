"""``helio``: one command for every Heliomesh role (see ``helio --help``)."""

from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler

from node.cli.bench import app as bench_app
from node.cli.bootstrap import bootstrap as bootstrap_command
from node.cli.chat import chat as chat_command
from node.cli.join import join as join_command
from node.cli.model import app as model_app
from node.cli.model_gov import delegate as delegate_command
from node.cli.node import app as node_app
from node.cli.referee import referee as referee_command
from node.cli.sim import app as sim_app
from node.cli.stake import stake, unstake, withdraw
from node.cli.status import status as status_command
from node.cli.verify import app as verify_app
from node.cli.wallet import app as wallet_app
from node.core.errors import HeliomeshError

err_console = Console(stderr=True)

app = typer.Typer(
    name="helio",
    help="Heliomesh: decentralized, renewable-powered LLM inference.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(model_app, name="model")
app.add_typer(bench_app, name="bench")
app.add_typer(sim_app, name="sim")
app.add_typer(node_app, name="node")
app.command("bootstrap")(bootstrap_command)
app.command("status")(status_command)
app.command("stake")(stake)
app.command("unstake")(unstake)
app.command("withdraw")(withdraw)
app.command("delegate")(delegate_command)
app.command("chat")(chat_command)
app.command("join")(join_command)
app.add_typer(wallet_app, name="wallet")
app.command("referee")(referee_command)
app.add_typer(verify_app, name="verify")


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging"),
) -> None:
    setup_logging(logging.DEBUG if verbose else logging.INFO)


def setup_logging(level: int = logging.INFO, log_file: Path | None = None) -> None:
    """Rich logs on stderr; with ``log_file``, plain timestamped lines there too."""
    handlers: list[logging.Handler] = [
        RichHandler(console=err_console, show_path=False, rich_tracebacks=True)
    ]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file)
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        handlers.append(file_handler)
    logging.basicConfig(level=level, format="%(message)s", handlers=handlers, force=True)
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _add_plugins() -> None:
    """Subcommands declared by other installed packages (e.g. ``helio gateway``)."""
    for ep in entry_points(group="heliomesh.cli"):
        app.add_typer(ep.load(), name=ep.name)
    for ep in entry_points(group="heliomesh.bench"):  # e.g. `helio bench gateway`
        bench_app.command(name=ep.name)(ep.load())


def main() -> None:
    _add_plugins()
    try:
        app()
    except HeliomeshError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
