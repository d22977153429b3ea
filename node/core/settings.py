"""One settings object per process, read (highest priority first) from init arguments,
``HELIO_*`` environment variables, a ``.env`` file, and a TOML config file
(``$HELIO_CONFIG``, else ``./heliomesh.toml``, else ``~/.config/heliomesh/config.toml``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from node.core.paths import DEFAULT_CACHE_DIR


def config_file() -> Path | None:
    """The TOML config file in use, if any."""
    if env := os.environ.get("HELIO_CONFIG"):
        return Path(env)
    for candidate in (Path("heliomesh.toml"), Path.home() / ".config/heliomesh/config.toml"):
        if candidate.is_file():
            return candidate
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELIO_", env_file=".env", extra="ignore")

    cache_dir: Path = Field(
        DEFAULT_CACHE_DIR, description="converted models, IPFS repos, logs (HELIO_CACHE_DIR)"
    )
    log_dir: Path | None = Field(None, description="process logs; default <cache_dir>/logs")
    network: str = Field(
        "local", description="'local' starts anvil; any other name needs rpc_url"
    )
    rpc_url: str | None = Field(None, description="JSON-RPC URL of a testnet (HELIO_RPC_URL)")
    private_key: SecretStr | None = Field(
        None, description="deployer/operator key for a testnet (HELIO_PRIVATE_KEY); never commit it"
    )
    chain_id: int | None = Field(None, description="refuse an RPC whose chain id differs")
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads")

    @field_validator("cache_dir", "log_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

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
        return tuple(sources)
