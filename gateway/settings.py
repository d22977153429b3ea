"""The gateway's settings, read the way every helio command reads its own
(node/core/settings.py): init arguments (its flags), ``HELIO_GATEWAY_*`` environment
variables, ``.env``, then the ``[gateway]`` table of the TOML config file. Its chain
(``HELIO_RPC_URL``, ``HELIO_NETWORK``) and swarm (``HELIO_INITIAL_PEERS``) come from the
shared node settings, as for ``helio node serve``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from node.core.settings import config_file

COST_HEADER = "X-Helio-Request-Cost"  # what this request cost, token wei


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELIO_GATEWAY_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="bind address (loopback by default)")
    port: int = Field(8000, ge=0, le=65535, description="0 picks a free port")
    models: list[str] = Field(
        default_factory=lambda: ["smollm2-135m-instruct"], description="model ids to serve"
    )
    dtype: str = Field("fp32", description="converted dtype to load (fp32, bf16, fp16)")
    max_concurrent_generations: int = Field(
        2, ge=1, description="generations running at once; more wait in a queue"
    )
    queue_timeout_s: float = Field(
        60.0, gt=0, description="a request waiting longer than this for a slot gets 503"
    )
    default_max_tokens: int = Field(128, ge=1, description="max_tokens when a request omits it")
    max_tokens_cap: int = Field(1024, ge=1, description="largest max_tokens a request may ask")
    # Free tier (per client IP), counted over a moving one-minute window.
    free_requests_per_minute: int = Field(20, ge=1)
    free_tokens_per_minute: int = Field(4000, ge=1, description="prompt + completion tokens")
    contributor_multiplier: int = Field(
        5, ge=1, description="a staked inferer's free limits are this many times larger"
    )
    # Payments: price and who gets paid.
    price_per_token_wei: int = Field(
        10**12, ge=0, description="token wei per prompt or completion token (1e12 = 1e-6 HELIO)"
    )
    payee_key: str | None = Field(
        None, description="the gateway operator's key (redeems vouchers); default: anvil dev key 1"
    )
    redeem_interval_s: float = Field(
        60.0, gt=0, description="how often accepted vouchers are redeemed on-chain in a batch"
    )
    voucher_min_validity_s: int = Field(
        60, ge=0, description="refuse vouchers expiring sooner than this (time to redeem)"
    )
    redeem_grace_s: int = Field(
        60, ge=0, description="time for a redemption to land on-chain: channels and vouchers must "
        "stay redeemable 2 × redeem_interval_s + this after a request"
    )
    desk_path: Path | None = Field(
        None, description="the payment desk's SQLite file (one per payee); default on a chain: "
        "<cache_dir>/desk/<payee>-<Payments>-<deploy block>.sqlite; off-chain channels: in memory"
    )
    desk_fsync: bool = Field(
        False, description="fsync every desk write (survives a power loss, slower); without it a "
        "committed write survives the gateway process being killed"
    )
    referee_key: str | None = Field(
        None, description="signs contribution epochs and posts their Merkle roots (needs "
        "REFEREE_ROLE, no stake) and the referee's spot-checks and fraud claims (needs "
        "VERIFIER_ROLE and stake); default on the local chain: anvil dev key 0 (the deployer)"
    )
    spot_check_rate: float = Field(
        0.01, ge=0, le=1, description="share of swarm answers re-executed on an independent "
        "inferer after they are returned (docs/verification.md); 0 turns the referee off"
    )
    contribution_epoch_s: float = Field(
        3600.0, gt=0, description="length of a contribution-accounting epoch"
    )
    # Energy admission (swarm-served models whose inferers publish verified energy claims).
    energy_admission: bool = Field(
        True, description="refuse new sessions beyond the swarm's energy capacity (503 at_capacity)"
    )
    energy_users_per_inferer: int = Field(
        8, ge=1, le=1000, description="the inferer-to-user ratio: sessions per inferer at most "
        "(fewer when its energy allows fewer)"
    )
    energy_queue_s: float = Field(
        10.0, ge=0, description="a session that does not fit waits this long for a slot, then 503"
    )
    energy_retry_after_s: int = Field(
        30, ge=1, description="Retry-After of a 503 at_capacity answer"
    )
    # Request limits (docs/gateway.md#limits): checked before any admission or tokenization.
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="largest request body, bytes (413 request_too_large beyond)"
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="a request body must arrive in full within this (408 request_timeout)"
    )
    max_prompt_chars: int = Field(
        262_144, ge=1, description="characters of a prompt (all messages' text together) at most, "
        "checked before the chat template and the tokenizer run (400)"
    )
    metrics: bool = Field(
        True, description="GET /metrics (Prometheus) and the HTTP latency/status middleware; "
        "false turns both off (docs/metrics.md)"
    )
    web_dist: Path | None = Field(
        None, description="built web app (default: gateway/web/dist next to the package)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings,
                InitSettingsSource(settings_cls, init_kwargs=_toml_table()))


def _toml_table() -> dict[str, Any]:
    """The ``[gateway]`` table of the TOML config file (empty without one)."""
    path = config_file()
    if path is None:
        return {}
    try:
        table = tomllib.loads(path.read_text()).get("gateway", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # the node settings report a broken file with its reason
    return table if isinstance(table, dict) else {}
