"""One settings object per process, and one way to read it for every command.

``load_settings(**flags)`` is what each command calls: values, highest priority first,
from its command-line flags (the ``None`` ones are left out), ``HELIO_*`` environment
variables, a ``.env`` file in the working directory, the TOML config file
(``$HELIO_CONFIG``, else ``./heliomesh.toml``, else ``~/.config/heliomesh/config.toml``),
and last the file a running ``make demo`` writes (``demo_settings_file()``: its chain's
RPC URL and network, so ``helio wallet balance`` finds the demo's chain with no flags;
ignored once the demo that wrote it has exited). ``settings_sources()`` says which
files were read, for error messages.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from node.core.paths import DEFAULT_CACHE_DIR

DEMO_PID_KEY = "demo_pid"  # the demo's settings file names its process; dead: ignored


def config_file() -> Path | None:
    """The TOML config file in use, if any."""
    if env := os.environ.get("HELIO_CONFIG"):
        return Path(env)
    for candidate in (Path("heliomesh.toml"), Path.home() / ".config/heliomesh/config.toml"):
        if candidate.is_file():
            return candidate
    return None


def demo_settings_file() -> Path:
    """Where a running ``make demo`` writes its chain's settings for the CLI."""
    cache = os.environ.get("HELIO_CACHE_DIR")
    return (Path(cache).expanduser() if cache else DEFAULT_CACHE_DIR) / "demo" / "settings.toml"


def live_demo_file() -> Path | None:
    """``demo_settings_file()`` if a demo that is still running wrote it."""
    path = demo_settings_file()
    try:
        pid = int(tomllib.loads(path.read_text()).get(DEMO_PID_KEY, 0))
    except (OSError, ValueError, tomllib.TOMLDecodeError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, someone else's
        pass
    return path


def settings_sources() -> list[str]:
    """The files the settings come from besides flags and HELIO_* variables."""
    files = [str(p) for p in (Path(".env"),) if p.is_file()]
    files += [str(p) for p in (config_file(), live_demo_file()) if p is not None]
    return files


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELIO_", env_file=".env", extra="ignore")

    cache_dir: Path = Field(
        DEFAULT_CACHE_DIR, description="converted models, IPFS repos, logs (HELIO_CACHE_DIR)"
    )
    log_dir: Path | None = Field(None, description="process logs; default <cache_dir>/logs")
    network: str = Field(
        "local", description="deployments/<network>.json to use (HELIO_NETWORK)"
    )
    rpc_url: str | None = Field(None, description="JSON-RPC URL of the chain (HELIO_RPC_URL)")
    private_key: SecretStr | None = Field(
        None, description="deployer/operator key for a testnet (HELIO_PRIVATE_KEY); never commit it"
    )
    chain_id: int | None = Field(None, description="refuse an RPC whose chain id differs")
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads")
    initial_peers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="swarm multiaddrs, comma-separated (HELIO_INITIAL_PEERS)",
    )
    deployments_dir: Path | None = Field(
        None, description="another deployments/ folder (HELIO_DEPLOYMENTS_DIR)"
    )
    identity: Path | None = Field(
        None, description="the node's libp2p key file: a stable peer id (HELIO_IDENTITY)"
    )

    @field_validator("cache_dir", "log_dir", "deployments_dir", "identity")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("initial_peers", mode="before")
    @classmethod
    def _split_peers(cls, value: Any) -> Any:
        if isinstance(value, str):  # HELIO_INITIAL_PEERS=a,b
            return [p.strip() for p in value.split(",") if p.strip()]
        if isinstance(value, list | tuple):  # flags may repeat and hold commas
            return [p.strip() for item in value for p in str(item).split(",") if p.strip()]
        return value

    @property
    def logs(self) -> Path:
        return self.log_dir or self.cache_dir / "logs"

    @property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, dotenv_settings]
        if (path := config_file()) is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        if (demo := live_demo_file()) is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=demo))
        return tuple(sources)


def load_settings(**flags: Any) -> Settings:
    """The settings with these command-line values on top (``None``/empty: not given)."""
    given = {k: v for k, v in flags.items() if v is not None and v != []}
    return Settings(**given)


def write_settings_file(path: Path, values: dict[str, str | int]) -> Path:
    """Write ``values`` as a flat TOML file the loader reads (strings and integers)."""
    lines = ["# written by Heliomesh; read by every `helio` command (node/core/settings.py)"]
    for key, value in values.items():
        lines.append(f"{key} = {value if isinstance(value, int) else json.dumps(str(value))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
