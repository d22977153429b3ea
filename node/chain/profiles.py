"""Deploy profiles: what ``scripts/deploy.py --profile local|testnet`` sets up, and the
record of what a deploy did (``DeploySetup``, kept in ``deployments/<network>.json``).

A profile fixes the unbonding delay, the governance timings (``node/chain/params.py``
holds them per profile), the initial token distribution (the Faucet's reserve and rate
limit) and who gets the referee roles by default. The genesis model is asked for per
deploy (``--genesis-model CID``): without one nothing is adopted off the local chain and
the gateway has no model to serve until a governance round adopts one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from pydantic import BaseModel, ConfigDict, Field

from node.chain.params import GOVERNANCE_PROFILES, HELIO, ChainParams
from node.core.errors import ConfigError


@dataclass(frozen=True)
class FaucetPlan:
    reserve: int  # token wei the deployer sends to the Faucet at deploy
    drip: int  # token wei per drip
    cooldown_s: int  # between two drips to one address
    window_cap: int  # drips per window over all addresses
    window_s: int


@dataclass(frozen=True)
class DeployProfile:
    name: str
    unbonding_delay_s: int
    faucet: FaucetPlan
    fund_dev_accounts: bool  # anvil's public dev accounts 1..9 (chain 31337 only)
    summary: str

    def chain_params(self, base: ChainParams | None = None) -> ChainParams:
        """``base`` (default: ``ChainParams()``) with this profile's delays and timings."""
        params = replace(base or ChainParams(), unbonding_delay_s=self.unbonding_delay_s,
                         **asdict(GOVERNANCE_PROFILES[self.name]))  # fmt: skip
        if params.timelock_delay_s <= params.unbonding_delay_s:
            raise ConfigError(
                f"profile {self.name}: the timelock delay ({params.timelock_delay_s} s) must "
                f"exceed the unbonding delay ({params.unbonding_delay_s} s) so stakers can "
                "leave before a passed proposal executes"
            )
        return params


PROFILES: dict[str, DeployProfile] = {
    "local": DeployProfile(
        name="local",
        unbonding_delay_s=2 * 24 * 3600,
        faucet=FaucetPlan(reserve=10_000_000 * HELIO, drip=10_000 * HELIO, cooldown_s=3600,
                          window_cap=1_000, window_s=3600),
        fund_dev_accounts=True,
        summary="anvil (31337): dev accounts funded, the demo model adopted, short governance",
    ),
    "testnet": DeployProfile(
        name="testnet",
        unbonding_delay_s=24 * 3600,
        # 2 000 HELIO a drip: the minimum stake (1 000) twice over, once a day per address;
        # at most 100 drips an hour over all addresses, 100 M HELIO (10 % of the supply) in it.
        faucet=FaucetPlan(reserve=100_000_000 * HELIO, drip=2_000 * HELIO, cooldown_s=24 * 3600,
                          window_cap=100, window_s=3600),
        fund_dev_accounts=False,
        summary="a public testnet: no dev keys, operators draw their stake from the Faucet",
    ),
}  # fmt: skip


def profile_named(name: str) -> DeployProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"--profile {name!r}: use one of {', '.join(PROFILES)}") from None


class GenesisRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str
    manifest_cid: str


class FaucetRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reserve: int = Field(ge=0, description="token wei sent to it at deploy")
    drip: int = Field(gt=0)
    cooldown_s: int = Field(gt=0)
    window_cap: int = Field(gt=0)
    window_s: int = Field(gt=0)


class DeploySetup(BaseModel):
    """What a deploy set up beyond the addresses, and what it left for later."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str
    unbonding_delay_s: int = Field(ge=0)
    timelock_delay_s: int = Field(ge=0)
    voting_delay_blocks: int = Field(ge=0)
    voting_period_blocks: int = Field(ge=0)
    min_stake: int = Field(ge=0, description="token wei")
    faucet: FaucetRecord
    referees: list[str] = Field(description="VERIFIER_ROLE + REFEREE_ROLE holders")
    guardian: str | None = Field(None, description="may cancel proposals until they execute")
    genesis_model: GenesisRecord | None = None
    dev_accounts_funded: bool = False
    not_done: list[str] = Field(default_factory=list, description="what a reader must do next")
