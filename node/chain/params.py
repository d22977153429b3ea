"""Deployment parameters of the contract suite (constructor arguments, the demo model).

Defaults suit both the local demo chain and a public testnet; each is a field with its
unit so a deployer can change it (``ChainParams(min_stake=...)``). Governance can change
the mutable ones later through the Timelock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HELIO = 10**18  # one token in wei (18 decimals)


@dataclass(frozen=True)
class DemoModel:
    """The model a local deployment registers and adopts at once (no vote needed)."""

    model_id: str = "smollm2-135m-instruct"
    manifest_cid: str | None = None  # None: the cached fp32 manifest's CID, else a placeholder
    license: str = "Apache-2.0"
    family: str = "llama"
    min_memory_mb: int = 1200  # fp32 SmolLM2 whole model ≈ 540 MB + activations
    energy_mj_per_token: int = 2000  # declared, refined by benchmarks
    max_latency_ms: int = 500


@dataclass(frozen=True)
class ChainParams:
    # StakingRegistry
    min_stake: int = 1_000 * HELIO  # own stake of an active inferer
    unbonding_delay_s: int = 2 * 24 * 3600  # unstake request -> withdraw
    capacity_weight_bps: int = 0  # w in the voting-power formula; 0 = power is stake
    capacity_reference: int = 100  # capRef, tokens/s
    # HelioTimelock + HelioGovernor (block-number clock)
    timelock_delay_s: int = 60
    voting_delay_blocks: int = 1
    voting_period_blocks: int = 50
    quorum_percent: int = 10  # of total voting power at the snapshot
    supermajority_bps: int = 6_667  # For votes / (For + Against)
    # ModelRegistry
    min_benchmarks: int = 1
    # EnergyAttestations
    energy_max_age_s: int = 900  # a report older than this is refused and not "fresh"
    energy_max_future_skew_s: int = 120  # clock drift allowed ahead of the block
    # Verification
    verification_epoch_s: int = 24 * 3600
    slash_bps: int = 1_000  # 10 % of the accused's stake
    slash_burn_bps: int = 5_000  # of the slashed amount
    slash_reporter_bps: int = 3_000  # of the slashed amount; the rest to the treasury
    claim_quorum: int = 2  # verifier confirmations, reporter included
    min_conflicting: int = 2  # independent re-executions that disagree with the accused
    challenge_window_s: int = 3600
    # Local chains only
    dev_funding: int = 1_000_000 * HELIO  # sent to each anvil dev account 1..9
    referees: tuple[str, ...] = ()  # get VERIFIER_ROLE + REFEREE_ROLE; () = the deployer on local
    demo_model: DemoModel = field(default_factory=DemoModel)

    def verification_parameters(self) -> tuple[int, int, int, int, int, int]:
        """``IVerification.Parameters`` as a tuple, in field order."""
        return (
            self.slash_bps,
            self.slash_burn_bps,
            self.slash_reporter_bps,
            self.claim_quorum,
            self.min_conflicting,
            self.challenge_window_s,
        )
