"""One way to read settings (issue #17, item 3): every command takes its chain, key, swarm
and identity from ``load_settings`` (flags > HELIO_* > .env > heliomesh.toml > a running
demo), never from a flag default or a typer ``envvar`` that skips .env and the TOML."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from node.core.settings import (
    DEMO_PID_KEY,
    demo_settings_file,
    load_settings,
    write_settings_file,
)

# The flags whose values live in node/core/settings.py's Settings.
SETTINGS_FLAGS = {"--rpc-url", "--network", "--private-key", "--initial-peers", "--identity"}


def _commands() -> Iterator[tuple[str, Any]]:
    from node.cli.main import _add_plugins, app

    _add_plugins()  # `helio gateway`, `helio bench gateway`: declared by the gateway package
    root = typer.main.get_command(app)

    def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():  # a group (typer's click)
            yield from walk(sub, f"{path} {name}")

    yield from walk(root, "helio")


def test_every_command_leaves_its_settings_flags_to_the_one_loader() -> None:
    """A flag with a default or an envvar of its own would shadow HELIO_*, .env and the
    TOML file for that one command (as `node serve --network local` and `gateway` did)."""
    offenders, seen = [], set()
    for path, command in _commands():
        for param in command.params:
            flags = set(param.opts) & SETTINGS_FLAGS
            if not flags:
                continue
            seen |= flags
            if param.envvar or param.default not in (None, [], ()):
                offenders.append(f"{path} {'/'.join(sorted(flags))}: default {param.default!r}, "
                                 f"envvar {param.envvar!r}")
    assert not offenders, "\n".join(offenders)
    assert seen == SETTINGS_FLAGS  # the walk reached the commands that have them


def test_flags_beat_env_beat_dotenv_beat_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HELIO_RPC_URL", "HELIO_NETWORK", "HELIO_INITIAL_PEERS", "HELIO_IDENTITY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HELIO_CACHE_DIR", str(tmp_path / "cache"))
    toml = write_settings_file(tmp_path / "heliomesh.toml", {
        "rpc_url": "http://toml:1", "network": "toml-net", "identity": "~/node.key"})
    monkeypatch.setenv("HELIO_CONFIG", str(toml))
    settings = load_settings()
    assert (settings.rpc_url, settings.network) == ("http://toml:1", "toml-net")
    assert settings.identity == Path.home() / "node.key"
    (tmp_path / ".env").write_text("HELIO_NETWORK=dotenv-net\nHELIO_INITIAL_PEERS=/ip4/1.2.3.4/tcp/1/p2p/a,/b\n")
    assert load_settings().network == "dotenv-net" and load_settings().initial_peers == ["/ip4/1.2.3.4/tcp/1/p2p/a", "/b"]
    monkeypatch.setenv("HELIO_NETWORK", "env-net")
    assert load_settings().network == "env-net"
    assert load_settings(network="flag-net", rpc_url=None).network == "flag-net"
    assert load_settings(network=None).rpc_url == "http://toml:1"  # None: not given


def test_a_running_demos_settings_are_read_last_and_only_while_it_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HELIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HELIO_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("HELIO_RPC_URL", raising=False)
    demo = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_settings_file(demo_settings_file(), {DEMO_PID_KEY: demo.pid, "rpc_url": "http://demo:2"})
        assert load_settings().rpc_url == "http://demo:2"
        monkeypatch.setenv("HELIO_RPC_URL", "http://mine:3")  # anything of the user's wins
        assert load_settings().rpc_url == "http://mine:3"
        monkeypatch.delenv("HELIO_RPC_URL")
    finally:
        demo.kill()
        demo.wait()
    assert load_settings().rpc_url is None  # the demo is gone: its file no longer counts
    assert os.path.exists(demo_settings_file())


def test_the_gateway_reads_its_table_of_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.settings import GatewaySettings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HELIO_GATEWAY_PORT", raising=False)
    toml = tmp_path / "heliomesh.toml"
    toml.write_text('rpc_url = "http://chain:1"\n\n[gateway]\nport = 9123\nmodels = ["gemma3-270m"]\n')
    monkeypatch.setenv("HELIO_CONFIG", str(toml))
    settings = GatewaySettings()
    assert settings.port == 9123 and settings.models == ["gemma3-270m"]
    assert load_settings().rpc_url == "http://chain:1"  # the chain: the shared node settings
    monkeypatch.setenv("HELIO_GATEWAY_PORT", "7001")
    assert GatewaySettings().port == 7001 and GatewaySettings(port=7002).port == 7002
