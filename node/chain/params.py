"""Deployment parameters of the contract suite (constructor arguments, the demo model).

Defaults are the local demo chain's; ``GOVERNANCE_PROFILES`` holds the governance and
epoch timings per deploy profile ("local", "testnet"), as data. Each is a field with its
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
    # HelioTimelock + HelioGovernor (block-number clock): the "local" profile's timings
    # (GOVERNANCE_PROFILES below); a testnet deploy takes the "testnet" ones.
    timelock_delay_s: int = 2 * 24 * 3600 + 3600  # > unbonding_delay_s: stakers can leave first
    voting_delay_blocks: int = 1
    voting_period_blocks: int = 50  # SHORT: the local demo chain (31337) only
    quorum_percent: int = 10  # of total voting power at the snapshot
    supermajority_bps: int = 6_667  # For votes / (For + Against)
    proposal_threshold: int = 1_000 * HELIO  # voting power to propose (the minimum stake)
    guardian: str | None = None  # may cancel proposals until executed; None = the deployer
    # Payments epochs: referee signatures per epoch root, delay before its claims open
    epoch_quorum: int = 1
    epoch_challenge_delay_s: int = 60
    # ModelRegistry
    min_benchmarks: int = 1
    evaluation_period_s: int = 3 * 24 * 3600  # then anyone may close an evaluation
    # EnergyAttestations
    energy_max_age_s: int = 900  # a report older than this is refused and not "fresh"
    energy_max_future_skew_s: int = 120  # clock drift allowed ahead of the block
    # Verification
    verification_epoch_s: int = 24 * 3600
    slash_bps: int = 1_000  # 10 % of the accused's stake
    slash_burn_bps: int = 5_000  # of the slashed amount
    slash_reporter_bps: int = 3_000  # of the part taken from the accused's OWN stake
    claim_quorum: int = 2  # verifier confirmations, reporter included
    min_conflicting: int = 2  # independent re-executions that disagree with the accused
    challenge_window_s: int = 3600
    claim_ttl_s: int = 12 * 3600  # after the window: execute, or the claim expires
    dispute_window_s: int = 6 * 3600  # the escalated committee's voting time
    dispute_quorum: int = 3  # guilty votes a disputed claim needs (> claim_quorum)
    jail_duration_s: int = 7 * 24 * 3600  # a slashed inferer may register again after this
    reporter_cap: int = 50 * HELIO  # the most a reporter (or wronged accused) receives
    # challenge + dispute + ttl (the evidence window) must be <= unbonding_delay_s.
    # Local chains only
    dev_funding: int = 1_000_000 * HELIO  # sent to each anvil dev account 1..9
    referees: tuple[str, ...] = ()  # get VERIFIER_ROLE + REFEREE_ROLE; () = the deployer
    demo_model: DemoModel = field(default_factory=DemoModel)

    def verification_parameters(self) -> tuple[int, ...]:
        """``IVerification.Parameters`` as a tuple, in field order."""
        return (
            self.slash_bps,
            self.slash_burn_bps,
            self.slash_reporter_bps,
            self.claim_quorum,
            self.min_conflicting,
            self.challenge_window_s,
            self.claim_ttl_s,
            self.dispute_window_s,
            self.dispute_quorum,
            self.jail_duration_s,
            self.reporter_cap,
        )


@dataclass(frozen=True)
class GovernanceTimings:
    """One deploy profile's governance timings; field names are ``ChainParams`` fields
    (``node/chain/profiles.py`` applies them with ``dataclasses.replace``).

    The rule both keep: ``timelock_delay_s`` exceeds the profile's unbonding delay, so a
    staker who sees a passed proposal queued can unbond and withdraw before it executes.
    """

    timelock_delay_s: int
    voting_delay_blocks: int
    voting_period_blocks: int
    quorum_percent: int
    proposal_threshold: int
    epoch_quorum: int
    epoch_challenge_delay_s: int


TESTNET_BLOCK_S = 12  # the block time the testnet block counts assume (Sepolia, Holesky)

GOVERNANCE_PROFILES: dict[str, GovernanceTimings] = {
    # Anvil (31337) demo: votes of 50 blocks so a demo can vote in minutes (anvil mines a
    # block per transaction; tests mine them). The timelock still outlasts unbonding.
    "local": GovernanceTimings(
        timelock_delay_s=ChainParams.timelock_delay_s,
        voting_delay_blocks=ChainParams.voting_delay_blocks,
        voting_period_blocks=ChainParams.voting_period_blocks,
        quorum_percent=ChainParams.quorum_percent,
        proposal_threshold=ChainParams.proposal_threshold,
        epoch_quorum=ChainParams.epoch_quorum,
        epoch_challenge_delay_s=ChainParams.epoch_challenge_delay_s,
    ),
    # A public testnet: a day's notice, three days of voting, three days in the timelock
    # (the testnet unbonding delay is one day), a fifth of the power for quorum, and a
    # day in which referees can veto an epoch root before it pays.
    "testnet": GovernanceTimings(
        timelock_delay_s=3 * 24 * 3600,
        voting_delay_blocks=24 * 3600 // TESTNET_BLOCK_S,
        voting_period_blocks=3 * 24 * 3600 // TESTNET_BLOCK_S,
        quorum_percent=20,
        proposal_threshold=1_000 * HELIO,
        epoch_quorum=1,
        epoch_challenge_delay_s=24 * 3600,
    ),
}
