"""Options shared by the swarm commands (``bootstrap``, ``node serve``, ``status``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from node.core.errors import ConfigError

InitialPeers = typer.Option(
    [], "--initial-peers", "-p",
    help="multiaddr of a swarm peer (e.g. the bootstrap's); repeat for several; "
    "default: $HELIO_INITIAL_PEERS (comma-separated)",
)
Host = typer.Option("127.0.0.1", "--host", help="listen address (loopback by default)")
Port = typer.Option(0, "--port", help="listen port (0: any free port)")


def initial_peers(given: list[str]) -> list[str]:
    """``--initial-peers``, else the settings' (HELIO_INITIAL_PEERS, .env, heliomesh.toml)."""
    from node.core.settings import load_settings

    return load_settings(initial_peers=list(given) or None).initial_peers


def quiet_hivemind() -> None:
    """hivemind logs every DHT hiccup at INFO; keep warnings only."""
    for name in ("hivemind", "hivemind.dht", "hivemind.p2p"):
        logging.getLogger(name).setLevel(logging.WARNING)


def resolve_model_dir(model: str | None, model_dir: Path | None, dtype: str) -> Path:
    """``--model-dir`` as given, or ``--model``'s converted copy in the cache."""
    if model_dir is not None:
        return model_dir
    if model is None:
        raise ConfigError("say which model: --model <id> (converted cache) or --model-dir <path>")
    from node.core.settings import Settings
    from node.models.convert import model_dir as cached_dir
    from node.models.convert import normalize_dtype

    directory = cached_dir(Settings().cache_dir, model, normalize_dtype(dtype))
    if not (directory / "manifest.json").is_file():
        raise ConfigError(f"{model} ({dtype}) is not converted yet: run `helio model convert {model}`")
    return directory


def watch_parent() -> None:
    """If ``HELIO_PARENT_PID`` is set (a ``LocalSwarm`` child), end this process group when
    that parent dies, so no swarm process outlives a crashed test or demo."""
    import signal
    import threading
    import time

    parent = os.environ.get("HELIO_PARENT_PID")
    if not parent or not parent.isdigit():
        return
    pid = int(parent)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                if os.getpgrp() == os.getpid():  # our own group: us and our p2pd
                    os.killpg(os.getpgrp(), signal.SIGKILL)
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
