"""Every contract's custom errors, decoded and said as a sentence with the remedy.

One place for the whole CLI, the deploy script and the gateway: a revert comes back
from web3 as raw bytes (``0x5ead8eb5…``); ``decode_revert`` names it by searching every
compiled contract (a call into the token or the timelock reverts with *their* errors),
and ``explain`` turns the name and arguments into what a user should do about it.
``tests/node/chain/test_reverts.py`` fails when a contract gains an error without one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from eth_utils.crypto import keccak

from node.chain.artifacts import load_artifact
from node.core.errors import ChainError

# Contracts whose errors a transaction of ours may surface; searched in this order
# after the contract that was called.
KNOWN_CONTRACTS = (
    "HelioToken",
    "StakingRegistry",
    "ModelRegistry",
    "Payments",
    "Verification",
    "EnergyAttestations",
    "HelioGovernor",
    "HelioTimelock",
    "Faucet",
)

PROPOSAL_STATES = (
    "Pending",
    "Active",
    "Canceled",
    "Defeated",
    "Succeeded",
    "Queued",
    "Expired",
    "Executed",
)
MODEL_STATUSES = ("None", "Proposed", "Evaluating", "Voting", "Adopted", "Rejected", "Deprecated")
TIMELOCK_STATES = ("Unset", "Waiting", "Ready", "Done")
_ROLES = {
    keccak(text=name): name
    for name in (
        "GOVERNANCE_ROLE",
        "REFEREE_ROLE",
        "SLASHER_ROLE",
        "VERIFIER_ROLE",
        "PROPOSER_ROLE",
        "EXECUTOR_ROLE",
        "CANCELLER_ROLE",
        "GUARDIAN_ROLE",
    )
} | {b"\x00" * 32: "DEFAULT_ADMIN_ROLE"}


def decode_revert(data: str | bytes, called: str | None = None) -> tuple[str, tuple[Any, ...]]:
    """``(error name, arguments)`` of custom-error revert data; ``called`` is tried first."""
    names = ((called,) if called else ()) + tuple(n for n in KNOWN_CONTRACTS if n != called)
    for name in names:
        try:
            return load_artifact(name).decode_error(data)
        except (ChainError, FileNotFoundError, KeyError):
            continue
    raw = data if isinstance(data, str) else "0x" + data.hex()
    return "UnknownError", (raw,)


def describe_revert(where: str, name: str, args: Sequence[Any]) -> str:
    """``"<where> reverted: Name(args). <what it means and what to do>"``."""
    shown = ", ".join(_short(a) for a in args)
    return f"{where} reverted: {name}({shown}). {explain(name, tuple(args))}"


def explain(name: str, args: tuple[Any, ...]) -> str:
    """The error as a sentence with its remedy (a generic one for errors not listed)."""
    rule = _EXPLAIN.get(name)
    if rule is None:
        return "See docs/contracts.md for this error."
    try:
        return rule(*args)
    except (TypeError, IndexError, ValueError):  # a changed signature: still say something
        return "See docs/contracts.md for this error."


def explained_errors() -> frozenset[str]:
    return frozenset(_EXPLAIN)


# --- formatting helpers -------------------------------------------------------------


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()[:16] + ("…" if len(value) > 8 else "")
    return str(value)


def helio(wei: int) -> str:
    """An 18-decimal token amount in HELIO, trimmed (``1500.5 HELIO``)."""
    whole, frac = divmod(int(wei), 10**18)
    text = f"{whole}.{frac:018d}".rstrip("0").rstrip(".")
    return f"{text} HELIO"


def when(timestamp: int, now: int | None = None) -> str:
    """A unix time in words: ``2026-12-08 10:00 UTC (in 2 d 3 h)``."""
    at = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")
    ref = int(now) if now is not None else int(datetime.now(UTC).timestamp())
    delta = int(timestamp) - ref
    return f"{at} ({'in ' + duration(delta) if delta >= 0 else duration(-delta) + ' ago'})"


def duration(seconds: int) -> str:
    """``2 d 3 h``, ``5 min 2 s``: the two largest units."""
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts[:2])


def _role(role: bytes) -> str:
    return _ROLES.get(bytes(role), "0x" + bytes(role).hex())


def _states(bitmap: bytes | int, names: Sequence[str]) -> str:
    bits = int.from_bytes(bitmap, "big") if isinstance(bitmap, bytes) else int(bitmap)
    return " or ".join(n for i, n in enumerate(names) if bits >> i & 1) or "none"


def _proposal_state(current: int) -> str:
    return PROPOSAL_STATES[current] if 0 <= current < len(PROPOSAL_STATES) else str(current)


def _model_status(status: int) -> str:
    return MODEL_STATUSES[status] if 0 <= status < len(MODEL_STATUSES) else str(status)


EVALUATION_FAILURES = ("none", "too-few-benchmarks", "energy", "latency", "energy-and-latency", "memory")


def evaluation_failure(reason: int, have: int, need: int) -> str:
    """Why an evaluation fails (``IModelRegistry.EvaluationFailure`` with its measure)."""
    return {
        0: "it meets the requirements",
        1: f"{have} benchmark(s) posted, {need} needed",
        2: f"no inferer ran it within the energy bound: the best was {have} mJ/token, the "
           f"bound {need} mJ/token",
        3: f"no inferer ran it within the latency bound: the best was {have} ms/token, the "
           f"bound {need} ms/token",
        4: "some inferers met the energy bound and some the latency bound, but none both",
        5: f"the inferers within the energy and latency bounds offer {have} MB of memory "
           f"together, the model needs {need} MB",
    }.get(int(reason), f"evaluation failure {reason}")


def _fixed(text: str) -> Callable[..., str]:
    return lambda *_: text


def _faucet_cooldown(to: str, ready_at: int) -> str:  # the token's and Faucet.sol's
    return f"The faucet already paid {to}; it pays again at {when(ready_at)}."


def _faucet_empty(left: int, drip: int) -> str:
    return (f"The faucet has {helio(left)} left, less than one drip of {helio(drip)}; "
            "ask the deployer to refill it.")


_E = Callable[..., str]
_EXPLAIN: dict[str, _E] = {
    # --- the token and its faucet ---
    "ERC20InsufficientBalance": lambda sender, balance, needed: (
        f"{sender} holds {helio(balance)} but this needs {helio(needed)}. Get HELIO first: "
        "`helio wallet faucet` on a testnet with a faucet, or `helio wallet transfer` from a holder."
    ),
    "ERC20InsufficientAllowance": lambda spender, allowance, needed: (
        f"{spender} may spend {helio(allowance)} of your HELIO but needs {helio(needed)}; "
        "the helio command approves before it spends, so retry it (an older approval was used up)."
    ),
    "ERC20InvalidReceiver": lambda r: f"HELIO cannot be sent to {r}; give a real address.",
    "ERC20InvalidSender": lambda s: f"HELIO cannot be sent from {s}.",
    "ERC20InvalidSpender": lambda s: f"{s} cannot be approved as a spender.",
    "ERC20InvalidApprover": lambda a: f"{a} cannot approve a spender.",
    "ERC2612ExpiredSignature": lambda deadline: (
        f"The permit signature expired at {when(deadline)}; sign a new one."
    ),
    "ERC2612InvalidSigner": lambda signer, owner: (
        f"The permit was signed by {signer}, not by the owner {owner}; sign it with the owner's key."
    ),
    "InvalidAccountNonce": lambda account, nonce: (
        f"The signature of {account} uses a stale nonce (the account is at {nonce}); sign again."
    ),
    "HelioTokenFaucetCooldown": _faucet_cooldown,
    "HelioTokenFaucetDisabled": _fixed("This deployment has no token faucet; ask a holder to "
                                       "`helio wallet transfer` you HELIO."),
    "HelioTokenFaucetEmpty": _faucet_empty,
    "HelioTokenFaucetNotLocal": lambda chain_id: (
        f"The token's built-in faucet only works on the local chain 31337, not {chain_id}; "
        "use the deployment's Faucet contract (`helio wallet faucet`)."
    ),
    "HelioTokenInvalidInitialMint": lambda holder, amount: (
        f"The deploy tried to mint {helio(amount)} to {holder}; check the deploy profile's distribution."
    ),
    # --- staking ---
    "StakingAlreadyRegistered": lambda account: (
        f"{account} is already registered; add stake with `helio stake --amount …` or see "
        "`helio status --mine`."
    ),
    "StakingAmountTooLarge": lambda amount: f"{helio(amount)} is more than a stake may hold.",
    "StakingBelowMinimum": lambda self_stake, min_stake: (
        f"A self-stake of {helio(self_stake)} is below the minimum {helio(min_stake)}; "
        "bond at least the minimum (`helio stake --amount`)."
    ),
    "StakingFutureLookup": lambda timepoint, clock: (
        f"Voting power at {timepoint} is asked for before it exists (now {clock}); wait a block."
    ),
    "StakingInfererInactive": lambda inferer: (
        f"{inferer} has no active stake (unbonded, jailed or never registered); "
        "delegate to an active inferer (`helio status`)."
    ),
    "StakingInsufficientShares": lambda have, need: (
        f"You hold {have} shares of this pool but asked to undelegate {need}."
    ),
    "StakingInsufficientStake": lambda have, need: (
        f"The stake is {helio(have)} but {helio(need)} was asked for; ask for less."
    ),
    "StakingInvalidAttestationKey": lambda key: (
        f"{key} cannot be the energy attestation key; give a real address."
    ),
    "StakingInvalidParameter": lambda value: (
        f"{value} is outside the allowed range for this staking parameter (docs/contracts.md)."
    ),
    "StakingInvalidPeerId": lambda length: (
        f"A peer id of {length} bytes is invalid; start the node once (`helio node serve "
        "--identity FILE`) to get its peer id."
    ),
    "StakingInvalidRegion": lambda length: f"A region of {length} bytes is invalid (1-32 bytes).",
    "StakingNotRegistered": lambda account: (
        f"{account} is not a registered inferer; register with `helio stake` first."
    ),
    "StakingNothingToWithdraw": lambda account: (
        f"{account} has nothing unbonded to withdraw; `helio unstake` first, then wait out "
        "the unbonding delay (`helio status --mine` shows when)."
    ),
    "StakingStillUnbonding": lambda release_at, now: (
        f"The unbonding ends at {when(release_at, now)}; withdraw after that."
    ),
    "StakingVotesNotTransferable": _fixed("Staked voting power follows the stake; it cannot be "
                                          "delegated separately."),
    "StakingZeroAmount": _fixed("The amount is 0; give a positive amount."),
    "VotesExpiredSignature": lambda expiry: (
        f"The delegation signature expired at {when(expiry)}; sign a new one."
    ),
    # --- models and governance ---
    "ModelAlreadyProposed": lambda key: (
        "This model id is already proposed; choose another id (`--id`) or see "
        "`helio model status <id>`."
    ),
    "ModelBenchmarkAlreadyPosted": lambda key, inferer: (
        f"{inferer} already posted a benchmark for this model; each inferer posts once."
    ),
    "ModelInvalidBenchmark": lambda bps: f"An accuracy of {bps} bps is outside 0..10000.",
    "ModelInvalidCid": lambda length: (
        f"A manifest CID of {length} bytes is invalid; publish the model and pass the CID "
        "`helio model publish` printed."
    ),
    "ModelInvalidId": lambda model_id: (
        f"{model_id!r} is not a valid model id: lowercase letters, digits and '-', at most 64 bytes."
    ),
    "ModelInvalidRoyaltyRecipient": _fixed("The royalty recipient is the zero address; "
                                           "give `--royalty-to ADDRESS`."),
    "ModelInvalidText": lambda length: f"A text of {length} bytes is too long for the registry.",
    "ModelNotActiveInferer": lambda caller: (
        f"Only staked, active inferers post benchmarks and {caller} is none; "
        "`helio stake` and run `helio node serve` first."
    ),
    "ModelNotCreator": lambda key, caller: (
        f"Only the model's creator may do this, not {caller}; use the creator's key."
    ),
    "ModelNotEnoughBenchmarks": lambda have, need: (
        f"The model has {have} of the {need} benchmarks needed before voting; inferers post them "
        "with `helio model evaluate`."
    ),
    "ModelUnknown": lambda key: "No model with this id is registered; see `helio model list`.",
    "ModelRequirementsNotMet": lambda key, reason, have, need: (
        f"The evaluation does not pass yet: {evaluation_failure(reason, have, need)}. Wait for "
        "more inferers to run `helio model evaluate`; when the evaluation period ends anyone "
        "closes it (`helio model close-evaluation <id>`) and a failing model is rejected."
    ),
    "ModelEvaluationStillOpen": lambda key, closes_at: (
        f"The evaluation is open until {when(closes_at)}; close it after that, or, as the "
        "creator, open the vote once it passes (`helio model vote <id> --open`)."
    ),
    "ModelVoteNotFinished": lambda proposal_id, state: (
        f"The vote is {_proposal_state(state)}, not finished; see `helio model status <id>` "
        "for when it ends."
    ),
    "ModelWrongStatus": lambda key, status: (
        f"The model is {_model_status(status)}, which does not allow this step; "
        "`helio model status <id>` shows the next step."
    ),
    "GovernorAlreadyCastVote": lambda voter: f"{voter} already voted on this proposal.",
    "GovernorAlreadyQueuedProposal": lambda pid: (
        "The proposal is already queued; execute it once the timelock delay has passed "
        "(`helio model execute <id>`)."
    ),
    "GovernorInsufficientProposerVotes": lambda proposer, votes, threshold: (
        f"{proposer} has {helio(votes)} of voting power; proposing needs {helio(threshold)} "
        "(stake or get delegations first)."
    ),
    "GovernorNonexistentProposal": lambda pid: "No such proposal; see `helio model status <id>`.",
    "GovernorOnlyExecutor": lambda account: f"Only the timelock may do this, not {account}.",
    "GovernorRestrictedProposer": lambda proposer: (
        f"The description reserves this proposal for another proposer than {proposer}."
    ),
    "GovernorUnableToCancel": lambda pid, account: (
        f"{account} cannot cancel this proposal (only its proposer, and only while Pending)."
    ),
    "GovernorUnexpectedProposalState": lambda pid, current, expected: (
        f"The proposal is {_proposal_state(current)}, and this step needs it "
        f"{_states(expected, PROPOSAL_STATES)}; `helio model status <id>` says what is next."
    ),
    "GovernorInvalidVoteType": _fixed("The vote must be for, against or abstain."),
    "GovernorInvalidSignature": lambda voter: f"The vote signature is not {voter}'s.",
    "GovernorInvalidSupermajority": lambda bps: f"A supermajority of {bps} bps is invalid.",
    "GovernorInvalidVotingPeriod": lambda period: f"A voting period of {period} is invalid.",
    "GovernorInvalidQuorumFraction": lambda num, den: f"A quorum of {num}/{den} is invalid.",
    "TimelockUnexpectedOperationState": lambda op, expected: (
        f"The timelock operation is not {_states(expected, TIMELOCK_STATES)}: it is not queued yet "
        "or its delay has not passed; `helio model status <id>` says when it can execute."
    ),
    "TimelockInsufficientDelay": lambda delay, min_delay: (
        f"A delay of {duration(delay)} is below the timelock's minimum of {duration(min_delay)}."
    ),
    "TimelockUnauthorizedCaller": lambda caller: (
        f"{caller} may not call the timelock directly; changes go through a governance proposal."
    ),
    "TimelockUnexecutedPredecessor": lambda pid: "An earlier timelock operation must execute first.",
    "AccessControlUnauthorizedAccount": lambda account, role: (
        f"{account} lacks {_role(role)}; only its holders may do this (governance grants roles)."
    ),
    # --- payments ---
    "PaymentsAlreadyClaimed": lambda epoch, account: (
        f"{account} already claimed its share of epoch {epoch}."
    ),
    "PaymentsAmountTooLarge": lambda amount: f"{helio(amount)} is more than a channel may hold.",
    "PaymentsBadSignature": lambda signer, client: (
        f"The voucher was signed by {signer}, not by the channel's client {client}."
    ),
    "PaymentsChannelExpired": lambda channel, expiry: (
        f"Channel {channel} expired at {when(expiry)}; open a new one (`helio wallet deposit`)."
    ),
    "PaymentsChannelNotExpired": lambda channel, expiry: (
        f"Channel {channel} runs until {when(expiry)} (plus the payee's grace); reclaim after that."
    ),
    "PaymentsEpochExceedsPool": lambda total, available: (
        f"The epoch pays {helio(total)} but the pool holds {helio(available)}."
    ),
    "PaymentsExceedsDeposit": lambda cumulative, deposit: (
        f"The voucher's {helio(cumulative)} exceeds the deposit of {helio(deposit)}; top up first."
    ),
    "PaymentsInvalidAddress": lambda account: f"{account} is not a valid address here.",
    "PaymentsInvalidExpiry": lambda expiry, now: (
        f"An expiry at {when(expiry, now)} is too soon; give a longer `--expires-in`."
    ),
    "PaymentsInvalidProof": lambda epoch, account, amount: (
        f"The Merkle proof for {account}'s {helio(amount)} in epoch {epoch} does not match the root."
    ),
    "PaymentsInvalidSplit": lambda a, b, c: f"A split of {a}/{b}/{c} bps does not sum to 10000.",
    "PaymentsNotClient": lambda channel, caller: (
        f"Only channel {channel}'s client may do this, not {caller}; use the key that opened it."
    ),
    "PaymentsNotPayee": lambda channel, caller: (
        f"Only channel {channel}'s payee (the gateway) may redeem, not {caller}."
    ),
    "PaymentsSignersNotAscending": lambda signer: (
        f"Referee signatures must come in ascending signer order, each signer once ({signer})."
    ),
    "PaymentsNothingToReclaim": lambda channel: f"Channel {channel} has nothing left to reclaim.",
    "PaymentsNothingToRedeem": lambda cumulative, redeemed: (
        f"The voucher's {helio(cumulative)} is already redeemed ({helio(redeemed)})."
    ),
    "PaymentsNothingToWithdraw": lambda account: f"{account} has nothing to withdraw.",
    "PaymentsUnknownChannel": lambda channel: (
        f"No channel {channel} exists; open one with `helio wallet deposit`."
    ),
    "PaymentsUnknownEpoch": lambda epoch: f"Epoch {epoch} was never posted.",
    "PaymentsUnknownModel": lambda model: "The voucher names a model that is not registered.",
    "PaymentsVoucherExpired": lambda expiry, now: (
        f"The voucher expired at {when(expiry, now)}; sign a new one."
    ),
    "PaymentsVoucherMismatch": lambda channel: (
        f"The voucher does not belong to channel {channel} (other payee, chain or contract)."
    ),
    "PaymentsZeroAmount": _fixed("The amount is 0; give a positive amount."),
    # --- energy ---
    "EnergyBadSignature": lambda inferer, signer, key: (
        f"The energy report for {inferer} was signed by {signer}, not its attestation key {key}."
    ),
    "EnergyNotRegistered": lambda inferer: (
        f"{inferer} is not a registered inferer; stake before posting energy reports."
    ),
    "EnergyReportFromFuture": lambda ts, latest: "The energy report's time is in the future.",
    "EnergyReportReplayed": lambda nonce, last: (
        f"Energy report nonce {nonce} is not above the last accepted {last} (a replay)."
    ),
    "EnergyReportStale": lambda ts, oldest: "The energy report is too old to be accepted.",
    "EnergyInvalidReport": lambda soc, state: "The energy report's values are out of range.",
    # --- verification ---
    "VerificationAlreadyConfirmed": lambda claim, verifier: (
        f"{verifier} already confirmed claim {claim}."
    ),
    "VerificationBadSignature": lambda index, signer, expected: (
        f"Commitment {index} was signed by {signer}, not {expected}."
    ),
    "VerificationChallengeWindowOpen": lambda deadline, now: (
        f"The challenge window is open until {when(deadline, now)}; execute the slash after it."
    ),
    "VerificationNotVerifier": lambda account: (
        f"{account} is no verifier; only referees with VERIFIER_ROLE post checks and claims."
    ),
    "VerificationQuorumNotReached": lambda have, quorum: (
        f"The claim has {have} of {quorum} confirmations; more verifiers must confirm it."
    ),
    "VerificationSignerNotActive": lambda index, signer: (
        f"Commitment {index}'s signer {signer} has no active stake."
    ),
    "VerificationUnknownClaim": lambda claim: f"No claim {claim}; see `helio verify status`.",
    "VerificationDuplicateSigner": lambda index, signer: (
        f"{signer} signs twice (result {index}); conflicting results need distinct verifiers."
    ),
    "VerificationInputMismatch": lambda index: (
        f"Result {index} is for other inputs than the accused's step; re-execute the same step."
    ),
    "VerificationConflictCount": lambda have, low, high: (
        f"A claim needs {low} to {high} conflicting results, not {have}."
    ),
    "VerificationInvalidParameters": _fixed("These verification parameters are out of range "
                                            "(docs/contracts.md lists the bounds)."),
    "VerificationBatchLength": lambda a, b: f"The batch lists {a} inferers but {b} outcomes.",
    # --- issue #13: claims, disputes, freezes and jails ---
    "VerificationFingerprintsAgree": lambda index: (
        f"Result {index} has the accused's fingerprint: the outputs agree, there is no fraud."
    ),
    "VerificationConflictsDisagree": lambda index: (
        f"Result {index}'s fingerprint differs from the other independent results (or is "
        "missing); a claim needs independent results that agree with each other."
    ),
    "VerificationSessionClaimed": lambda accused, session: (
        f"{accused} already has a claim for this session; see `helio verify status`."
    ),
    "VerificationWrongStatus": lambda claim, status: (
        f"Claim {claim} is {('open', 'disputed', 'slashed', 'rejected', 'expired')[int(status)]}"
        "; this step does not apply to it (`helio verify status --claim ID`)."
    ),
    "VerificationWindowClosed": lambda deadline, now: (
        f"That window closed at {when(deadline, now)}."
    ),
    "VerificationNotAccused": lambda account: (
        f"{account} is not the accused; only the accused inferer can dispute its claim."
    ),
    "VerificationAccuserVotes": lambda claim, verifier: (
        f"{verifier} is a party to claim {claim} (accused or accuser) and cannot vote on it."
    ),
    "VerificationTooManyAccusers": lambda claim: (
        f"Claim {claim} has the most accusers allowed; it needs no more confirmations."
    ),
    "VerificationAlreadySpotChecked": lambda verifier, digest: (
        f"{verifier} already posted a spot-check of this commitment."
    ),
    "VerificationEvidenceWindowTooLong": lambda window, delay: (
        f"Claims would run for {duration(int(window))}, longer than the unbonding delay "
        f"({duration(int(delay))}); shorten the windows or raise the delay first."
    ),
    "StakingFrozen": lambda inferer: (
        f"{inferer} has an open fraud claim: its stake cannot move until the claim closes "
        "(`helio verify status --inferer ADDR`)."
    ),
    "StakingNotFrozen": lambda inferer: f"{inferer} has no open claim to release.",
    "StakingJailed": lambda inferer, until: (
        f"{inferer} is jailed after a slash until {when(until)}; register again after that."
    ),
    "StakingDelayBelowEvidenceWindow": lambda delay, window: (
        f"An unbonding delay of {duration(int(delay))} is shorter than the claims' evidence "
        f"window ({duration(int(window))}); slashable stake could leave before a slash lands."
    ),
    "PaymentsChannelSettling": lambda channel, at: (
        f"Channel {channel} expired but the payee may still redeem until {when(at)}; "
        "reclaim after that."
    ),
    "PaymentsChannelClosed": lambda channel: (
        f"Channel {channel} was reclaimed and is closed; open a new one (`helio wallet deposit`)."
    ),
    "PaymentsAmountAboveVoucher": lambda amount, cumulative: (
        f"Redeeming {helio(amount)} is more than the voucher's {helio(cumulative)}."
    ),
    "PaymentsNotReferee": lambda account: (
        f"{account} is not a registered referee; epoch roots need the referees' signatures."
    ),
    "PaymentsEpochQuorum": lambda have, need: (
        f"The epoch root carries {have} referee signatures; {need} are needed."
    ),
    "PaymentsEpochNotOpen": lambda epoch, opens_at: (
        f"Epoch {epoch} opens for claims at {when(opens_at)} (its challenge delay); claim after that."
    ),
    "PaymentsEpochVetoed": lambda epoch: f"Epoch {epoch}'s root was vetoed; nothing can be claimed from it.",
    "PaymentsEpochChallengeOver": lambda epoch, opens_at: (
        f"Epoch {epoch}'s challenge delay ended at {when(opens_at)}; it can no longer be vetoed."
    ),
    "PaymentsInvalidEpochRules": lambda quorum, delay: (
        f"A referee quorum of {quorum} with a challenge delay of {duration(delay)} is invalid."
    ),
    "ModelDuplicateManifest": lambda key, original: (
        f"This manifest CID is already registered as {original!r}; propose that model, or "
        f"publish different weights (`helio model status {original}`)."
    ),
    "GovernorZeroProposalThreshold": _fixed("The proposal threshold must be above 0."),
    "GovernorGuardianCannotVetoReplacement": _fixed(
        "The guardian cannot veto the proposal that replaces or removes it."),
    # --- batches and the testnet faucet ---
    "PaymentsBatchLength": lambda a, b: f"The batch has {a} vouchers but {b} signatures.",
    "PaymentsBatchTooLarge": lambda n, top: f"A batch of {n} is above the maximum {top}; split it.",
    "EnergyBatchLength": lambda a, b: f"The batch has {a} reports but {b} signatures.",
    "EnergyBatchTooLarge": lambda n, top: f"A batch of {n} is above the maximum {top}; split it.",
    "FaucetInvalidParameters": _fixed("The faucet's drip, cooldown or window cap is invalid."),
    "FaucetCooldown": _faucet_cooldown,
    "FaucetWindowFull": lambda cap, opens_at: (
        f"The faucet paid its {helio(cap)} for this window; it opens again at {when(opens_at)}."
    ),
    "FaucetEmpty": _faucet_empty,
    "ReentrancyGuardReentrantCall": _fixed("A reentrant call was refused."),
    "SafeERC20FailedOperation": lambda token: f"A token transfer of {token} failed.",
    "FailedCall": _fixed("A call made by the contract failed."),
}
