"""Typed wrappers for every call the nodes and the gateway make, over one deployment.

    chain = HelioChain.open(w3, "local", account)      # deployments/local.json, checked
    chain.staking.ensure_staked(peer_id=..., attestation_key=..., region=..., capacity=..., amount=...)
    chain.energy.submit(report, report.sign(key, chain.energy.domain()))
    chain.payments.redeem(voucher, signature)

Amounts are token wei (``HELIO = 10**18``); addresses are checksummed strings; model
ids are strings here and ``keccak256(model_id)`` on chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from node.chain.base import ContractClient, ContractRevert
from node.chain.deployment import Deployment
from node.core.paths import DEPLOYMENTS_DIR
from node.crypto.eip712 import EnergyReport, OutputCommitment, Voucher, model_key

MODEL_STATUS = ("none", "proposed", "evaluating", "voting", "adopted", "rejected", "deprecated")
PROPOSAL_STATE = (
    "pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed",
)  # fmt: skip
VOTE = {"against": 0, "for": 1, "abstain": 2}


class Token(ContractClient):
    NAME = "HelioToken"

    def balance_of(self, account: str) -> int:
        return int(self.c.functions.balanceOf(account).call())

    def approve(self, spender: str, amount: int) -> TxReceipt:
        return self._tx("approve", self.c.functions.approve(spender, amount))

    def transfer(self, to: str, amount: int) -> TxReceipt:
        return self._tx("transfer", self.c.functions.transfer(to, amount))

    def faucet(self, to: str) -> TxReceipt:
        return self._tx("faucet", self.c.functions.faucet(to))

    def ensure_allowance(self, spender: str, amount: int) -> None:
        assert self.account is not None
        if self.c.functions.allowance(self.account.address, spender).call() < amount:
            self.approve(spender, amount)


@dataclass(frozen=True)
class NodeRecord:
    attestation_key: str
    capacity: int
    registered_at: int
    peer_id: str
    region: str


@dataclass(frozen=True)
class StakeRecord:
    self_stake: int
    delegated_stake: int
    delegated_shares: int


class _PaysWithToken(ContractClient):
    """A contract that pulls HELIO from the caller: it needs the token to approve first."""

    def __init__(
        self,
        w3: Web3,
        contract: Any,
        account: LocalAccount | None = None,
        token: Token | None = None,
    ):
        super().__init__(w3, contract, account)
        self.token = token


class Staking(_PaysWithToken):
    NAME = "StakingRegistry"

    def register(self, peer_id: str, attestation_key: str, region: str, capacity: int) -> TxReceipt:
        return self._tx(
            "register", self.c.functions.register(peer_id, attestation_key, region, capacity)
        )

    def update_node(
        self, peer_id: str, attestation_key: str, region: str, capacity: int
    ) -> TxReceipt:
        return self._tx(
            "updateNode", self.c.functions.updateNode(peer_id, attestation_key, region, capacity)
        )

    def stake(self, amount: int) -> TxReceipt:
        """Approve (if needed) and bond ``amount`` more."""
        assert self.token is not None
        self.token.with_account(self._account()).ensure_allowance(self.address, amount)
        return self._tx("stake", self.c.functions.stake(amount))

    def request_unstake(self, amount: int) -> TxReceipt:
        return self._tx("requestUnstake", self.c.functions.requestUnstake(amount))

    def withdraw(self) -> TxReceipt:
        return self._tx("withdraw", self.c.functions.withdraw())

    def delegate_stake(self, inferer: str, amount: int) -> TxReceipt:
        assert self.token is not None
        self.token.with_account(self._account()).ensure_allowance(self.address, amount)
        return self._tx("delegateStake", self.c.functions.delegateStake(inferer, amount))

    def ensure_staked(self, *, peer_id: str, attestation_key: str, region: str, capacity: int,
                      amount: int | None = None) -> list[str]:  # fmt: skip
        """The start-up step of ``helio node serve``: register (or update) the node and top
        its own stake up to ``amount`` (default: the minimum). Returns what it did."""
        me = self._account().address
        done: list[str] = []
        node = self.node_of(me)
        if node.registered_at == 0:
            self.register(peer_id, attestation_key, region, capacity)
            done.append("registered")
        elif (node.peer_id, node.attestation_key, node.region, node.capacity) != (
            peer_id, Web3.to_checksum_address(attestation_key), region, capacity,
        ):  # fmt: skip
            self.update_node(peer_id, attestation_key, region, capacity)
            done.append("updated")
        target = max(amount or 0, self.min_stake())
        have = self.stake_of(me).self_stake
        if have < target:
            self.stake(target - have)
            done.append(f"staked {target - have}")
        return done

    def _account(self) -> LocalAccount:
        if self.account is None:
            from node.core.errors import ChainError

            raise ChainError("StakingRegistry writes need a signing account (HELIO_PRIVATE_KEY)")
        return self.account

    def min_stake(self) -> int:
        return int(self.c.functions.minStake().call())

    def is_active(self, inferer: str) -> bool:
        return bool(self.c.functions.isActive(inferer).call())

    def node_of(self, inferer: str) -> NodeRecord:
        return NodeRecord(*self.c.functions.nodeOf(inferer).call())

    def stake_of(self, inferer: str) -> StakeRecord:
        return StakeRecord(*self.c.functions.stakeOf(inferer).call())

    def unbonding_of(self, account: str, inferer: str | None = None) -> tuple[int, int]:
        """(amount, release timestamp) of ``account``'s unbonding from ``inferer`` (default:
        its own stake); slashes of that inferer since the request are already taken off."""
        own = inferer is None or inferer.lower() == account.lower()
        if own:
            amount, release_at = self.c.functions.unbondingOf(account).call()
        else:
            amount, release_at = self.c.functions.delegatorUnbondingOf(account, inferer).call()
        return int(amount), int(release_at)

    def withdraw_from(self, inferer: str) -> TxReceipt:
        """A delegator's released unbonding from ``inferer``."""
        return self._tx("withdrawFrom", self.c.functions.withdrawFrom(inferer))

    def request_undelegate(self, inferer: str, shares: int) -> TxReceipt:
        return self._tx("requestUndelegate", self.c.functions.requestUndelegate(inferer, shares))

    def shares_of(self, delegator: str, inferer: str) -> int:
        return int(self.c.functions.sharesOf(delegator, inferer).call())

    def is_jailed(self, inferer: str) -> bool:
        """Slashed for fraud: not active, no routes, no votes until it registers again."""
        return bool(self.c.functions.isJailed(inferer).call())

    def jailed_until(self, inferer: str) -> int:
        """Unix time from which a jailed inferer may register again (0: never jailed)."""
        return int(self.c.functions.jailedUntil(inferer).call())

    def is_frozen(self, inferer: str) -> bool:
        """A fraud claim against ``inferer`` is open: its stake cannot leave."""
        return bool(self.c.functions.isFrozen(inferer).call())

    def jailed_since(self, from_block: int | None) -> tuple[list[str], int]:
        """Inferers jailed (``Jailed`` events) from block ``from_block`` to the latest, and
        the block to read from next time; ``None``: start watching at the next block."""
        latest = int(self.w3.eth.block_number)
        if from_block is None or from_block > latest:
            return [], latest + 1 if from_block is None else from_block
        logs = self.c.events.Jailed.get_logs(from_block=from_block, to_block=latest)
        return [str(log["args"]["inferer"]) for log in logs], latest + 1

    def unbonding_delay(self) -> int:
        return int(self.c.functions.unbondingDelay().call())

    def refresh_votes(self, inferer: str) -> TxReceipt:
        """Re-checkpoint ``inferer``'s voting power (anyone; after a raised minimum stake)."""
        return self._tx("refreshVotes", self.c.functions.refreshVotes(inferer))

    def votes(self, inferer: str) -> int:
        return int(self.c.functions.getVotes(inferer).call())


class Energy(ContractClient):
    NAME = "EnergyAttestations"

    def submit(self, report: EnergyReport, signature: bytes) -> TxReceipt:
        return self._tx("submit", self.c.functions.submit(report.as_tuple(), signature))

    def submit_batch(self, signed: list[tuple[EnergyReport, bytes]]) -> TxReceipt:
        reports = [r.as_tuple() for r, _ in signed]
        return self._tx(
            "submitBatch", self.c.functions.submitBatch(reports, [s for _, s in signed])
        )

    def latest(self, inferer: str) -> dict[str, int]:
        names = (
            "timestamp",
            "available_power_w",
            "battery_soc_bps",
            "headroom_w",
            "state",
            "nonce",
        )
        return dict(zip(names, self.c.functions.latest(inferer).call(), strict=True))

    def is_renewable_active(self, inferer: str) -> bool:
        return bool(self.c.functions.isRenewableActive(inferer).call())

    def max_age(self) -> int:
        return int(self.c.functions.maxAge().call())


class Models(ContractClient):
    NAME = "ModelRegistry"

    def propose(self, model_id: str, manifest_cid: str, license_: str, family: str, *,
                min_memory_mb: int, energy_mj_per_token: int, max_latency_ms: int,
                royalty_recipient: str) -> TxReceipt:  # fmt: skip
        reqs = (min_memory_mb, energy_mj_per_token, max_latency_ms)
        call = self.c.functions.propose(
            model_id, manifest_cid, license_, family, reqs, royalty_recipient
        )
        return self._tx("propose", call)

    def start_evaluation(self, model_id: str) -> TxReceipt:
        return self._tx("startEvaluation", self.c.functions.startEvaluation(model_key(model_id)))

    def post_benchmark(
        self, model_id: str, tokens_per_s: float, mj_per_token: int, accuracy_bps: int,
        memory_mb: int,
    ) -> TxReceipt:
        call = self.c.functions.postBenchmark(
            model_key(model_id), round(tokens_per_s * 1000), mj_per_token, accuracy_bps, memory_mb
        )
        return self._tx("postBenchmark", call)

    def finalize_rejected(self, model_id: str) -> TxReceipt:
        """Anyone: record Rejected once the adoption vote was defeated, canceled or expired."""
        return self._tx("finalizeRejected", self.c.functions.finalizeRejected(model_key(model_id)))

    def close_evaluation(self, model_id: str) -> TxReceipt:
        """Anyone, after the evaluation period: open the vote, or reject with the reason."""
        return self._tx("closeEvaluation", self.c.functions.closeEvaluation(model_key(model_id)))

    def evaluation(self, model_id: str) -> dict[str, Any]:
        """The running evaluation: what the benchmarks add up to, and the verdict if it
        closed now (``failure`` "none": it passes; ``reason`` says it in words)."""
        from node.chain.reverts import EVALUATION_FAILURES, evaluation_failure

        key = model_key(model_id)
        e = self.c.functions.evaluationOf(key).call()
        reason, have, need = self.c.functions.evaluationVerdict(key).call()
        return {
            "started_at": e[0], "qualified": e[1], "qualified_memory_mb": e[2],
            "best_mj_per_token": e[3], "best_tokens_per_s": e[4] / 1000,
            "closes_at": e[0] + int(self.c.functions.evaluationPeriod().call()),
            "failed": e[7] != 0, "failure": EVALUATION_FAILURES[reason], "have": have, "need": need,
            "reason": evaluation_failure(reason, have, need),
        }  # fmt: skip

    def start_voting(self, model_id: str) -> int:
        """Open the vote; the Governor proposal id."""
        self._tx("startVoting", self.c.functions.startVoting(model_key(model_id)))
        return self.proposal_id(model_id)

    def status(self, model_id: str) -> str:
        return MODEL_STATUS[self.c.functions.statusOf(model_key(model_id)).call()]

    def adoption_description(self, model_id: str) -> str:
        """The Governor description of the model's current vote ("" before one opens)."""
        return str(self.c.functions.adoptionDescription(model_key(model_id)).call())

    def release_id(self, model_id: str) -> TxReceipt:
        """Governance only (the Timelock): free a squatted or dead id for a new proposal."""
        return self._tx("releaseId", self.c.functions.releaseId(model_key(model_id)))

    def is_adopted(self, model_id: str) -> bool:
        return bool(self.c.functions.isAdopted(model_key(model_id)).call())

    def proposal_id(self, model_id: str) -> int:
        return int(self.c.functions.modelOf(model_key(model_id)).call()[5])

    def model(self, model_id: str) -> dict[str, Any]:
        m = self.c.functions.modelOf(model_key(model_id)).call()
        return {
            "creator": m[0], "status": MODEL_STATUS[m[1]], "proposed_at": m[2],
            "royalty_recipient": m[3], "benchmark_count": m[4], "proposal_id": m[5],
            "min_memory_mb": m[6][0], "energy_mj_per_token": m[6][1], "max_latency_ms": m[6][2],
            "model_id": m[7], "manifest_cid": m[8], "license": m[9], "family": m[10],
        }  # fmt: skip

    def adopted_models(self) -> list[str]:
        """Model id strings of every adopted model."""
        return [
            self.c.functions.modelOf(k).call()[7] for k in self.c.functions.adoptedModels().call()
        ]


@dataclass(frozen=True)
class FiledProposal:
    """A Governor proposal as its ``ProposalCreated`` event recorded it."""

    proposal_id: int
    proposer: str
    description: str
    vote_start: int  # the snapshot block
    vote_end: int  # the last block of voting
    block_number: int  # the block that filed it


class Governor(ContractClient):
    NAME = "HelioGovernor"

    def vote(self, proposal_id: int, support: str = "for", reason: str = "") -> TxReceipt:
        if support not in VOTE:
            from node.core.errors import ConfigError

            raise ConfigError(f"vote must be one of {', '.join(VOTE)}, not {support!r}")
        call = self.c.functions.castVoteWithReason(proposal_id, VOTE[support], reason)
        return self._tx("castVote", call)

    def state(self, proposal_id: int) -> str:
        return PROPOSAL_STATE[self.c.functions.state(proposal_id).call()]

    def votes(self, proposal_id: int) -> dict[str, int]:
        against, for_, abstain = self.c.functions.proposalVotes(proposal_id).call()
        return {"against": against, "for": for_, "abstain": abstain}

    def adoption_call(
        self, models: Models, model_id: str
    ) -> tuple[list[str], list[int], list[bytes], bytes]:
        """targets, values, calldatas and description hash of a model's current adoption
        vote (the description carries a nonce and ``#proposer=<registry>``)."""
        data = models.c.encode_abi("adopt", [model_key(model_id)])
        description = models.adoption_description(model_id)
        return [models.address], [0], [bytes.fromhex(data[2:])], Web3.keccak(text=description)

    def deprecation_call(
        self, models: Models, model_id: str, description: str
    ) -> tuple[list[str], list[int], list[bytes], bytes]:
        """targets, values, calldatas and description hash of a proposal whose one action
        is ``ModelRegistry.deprecate(key)``."""
        data = models.c.encode_abi("deprecate", [model_key(model_id)])
        return [models.address], [0], [bytes.fromhex(data[2:])], Web3.keccak(text=description)

    def deprecation_proposals(
        self, models: Models, model_id: str, from_block: int = 0
    ) -> list[FiledProposal]:
        """Every proposal whose one action is ``ModelRegistry.deprecate(key)`` of this
        model, oldest first, read from the Governor's ``ProposalCreated`` logs."""
        targets, values, calldatas, _ = self.deprecation_call(models, model_id, "")
        found = []
        for log in self.c.events.ProposalCreated.get_logs(from_block=from_block):
            a = log["args"]
            action = (list(a["targets"]), list(a["values"]), [bytes(c) for c in a["calldatas"]])
            if action != (targets, values, calldatas):
                continue
            found.append(FiledProposal(int(a["proposalId"]), str(a["proposer"]), str(a["description"]),
                                       int(a["voteStart"]), int(a["voteEnd"]), int(log["blockNumber"])))  # fmt: skip
        return found

    def propose(
        self, targets: list[str], values: list[int], calldatas: list[bytes], description: str
    ) -> int:
        """File a proposal (the sender needs ``proposal_threshold()`` of voting power at the
        previous block); its id."""
        call = self.c.functions.propose(targets, values, calldatas, description)
        return int(self.events(self._tx("propose", call), "ProposalCreated")[0]["proposalId"])

    def cancel(
        self, targets: list[str], values: list[int], calldatas: list[bytes], desc_hash: bytes
    ) -> TxReceipt:
        """The guardian's veto (any state before executed), or a proposer's while pending."""
        return self._tx("cancel", self.c.functions.cancel(targets, values, calldatas, desc_hash))

    def guardian(self) -> str:
        return str(self.c.functions.proposalGuardian().call())

    def proposal_threshold(self) -> int:
        return int(self.c.functions.proposalThreshold().call())

    def queue(
        self, targets: list[str], values: list[int], calldatas: list[bytes], desc_hash: bytes
    ) -> TxReceipt:
        return self._tx("queue", self.c.functions.queue(targets, values, calldatas, desc_hash))

    def execute(
        self, targets: list[str], values: list[int], calldatas: list[bytes], desc_hash: bytes
    ) -> TxReceipt:
        return self._tx("execute", self.c.functions.execute(targets, values, calldatas, desc_hash))


class Payments(_PaysWithToken):
    NAME = "Payments"

    def open_channel(self, payee: str, amount: int, expiry: int) -> int:
        """Approve (if needed), deposit and open; the new channel id."""
        assert self.token is not None and self.account is not None
        self.token.with_account(self.account).ensure_allowance(self.address, amount)
        receipt = self._tx("openChannel", self.c.functions.openChannel(payee, amount, expiry))
        return int(self.events(receipt, "ChannelOpened")[0]["channel"])

    def top_up(self, channel: int, amount: int, expiry: int) -> TxReceipt:
        """Approve (if needed) and add ``amount`` to ``channel``, extending it to ``expiry``."""
        assert self.token is not None and self.account is not None
        self.token.with_account(self.account).ensure_allowance(self.address, amount)
        return self._tx("topUp", self.c.functions.topUp(channel, amount, expiry))

    def redeem(self, voucher: Voucher, signature: bytes) -> TxReceipt:
        return self._tx("redeem", self.c.functions.redeem(voucher.as_tuple(), signature))

    def redeem_batch(self, signed: list[tuple[Voucher, bytes, int]]) -> TxReceipt:
        """Redeem each (voucher, signature, amount) in one transaction, ``amount`` being what
        the payee charged (<= the voucher's cumulativeAmount). Any bad one reverts all:
        ``simulate_redeem`` each first."""
        return self._tx("redeemBatch", self._batch(signed))

    def simulate_redeem(self, voucher: Voucher, signature: bytes, amount: int) -> str | None:
        """``eth_call`` of a one-voucher batch from the payee: None if it would redeem, else
        the revert (``PaymentsChannelExpired(…)``). A chain that does not answer raises."""
        try:
            payee = self.account.address if self.account else voucher.payee
            self._batch([(voucher, signature, amount)]).call({"from": payee})
        except ContractCustomError as e:
            name, args = self._decode(str(e.data))
            return f"{name}({', '.join(map(str, args))})"
        except ContractLogicError as e:
            return f"reverted: {e.message}"
        return None

    def _batch(self, signed: list[tuple[Voucher, bytes, int]]) -> Any:
        return self.c.functions.redeemBatch(
            [v.as_tuple() for v, _, _ in signed], [s for _, s, _ in signed], [a for _, _, a in signed]
        )

    def is_closed(self, channel: int) -> bool:
        """Reclaimed: closed for good."""
        return bool(self.c.functions.isClosed(channel).call())

    def settle_period(self) -> int:
        """Seconds after a channel's expiry during which the payee may still redeem."""
        return int(self.c.functions.SETTLE_PERIOD().call())

    def reclaim(self, channel: int) -> TxReceipt:
        return self._tx("reclaim", self.c.functions.reclaim(channel))

    def post_epoch_root(
        self, payee: str, root: bytes, total: int, signatures: list[tuple[str, bytes]]
    ) -> TxReceipt:
        """Spend ``total`` of ``payee``'s pool on ``root``; ``signatures``: (referee, its
        ``EpochRoot`` signature), sent in the ascending signer order the contract wants."""
        ordered = [sig for _, sig in sorted(signatures, key=lambda s: int(s[0], 16))]
        return self._tx("postEpochRoot", self.c.functions.postEpochRoot(payee, root, total, ordered))

    def veto_epoch(self, epoch: int) -> TxReceipt:
        return self._tx("vetoEpoch", self.c.functions.vetoEpoch(epoch))

    def pool_of(self, payee: str) -> int:
        """What ``payee``'s redemptions put in the inferers' pool, not yet given to an epoch."""
        return int(self.c.functions.poolOf(payee).call())

    def epoch_nonce_of(self, payee: str) -> int:
        return int(self.c.functions.epochNonceOf(payee).call())

    def epoch(self, epoch: int) -> dict[str, Any]:
        root, total, claimed, payee, opens_at, vetoed = self.c.functions.epochOf(epoch).call()
        return {"root": bytes(root), "total": total, "claimed": claimed, "payee": payee,
                "opens_at": opens_at, "vetoed": vetoed}  # fmt: skip

    def epoch_rules(self) -> tuple[int, int]:
        """(referee signatures an epoch root needs, seconds before its claims open)."""
        f = self.c.functions
        return int(f.epochQuorum().call()), int(f.epochChallengeDelay().call())

    def claim(self, epoch: int, account: str, amount: int, proof: list[bytes]) -> TxReceipt:
        return self._tx("claim", self.c.functions.claim(epoch, account, amount, proof))

    def withdraw_royalties(self) -> TxReceipt:
        return self._tx("withdrawRoyalties", self.c.functions.withdrawRoyalties())

    def channel(self, channel: int) -> dict[str, Any]:
        client, expiry, payee, deposit, redeemed = self.c.functions.channelOf(channel).call()
        return {
            "client": client,
            "expiry": expiry,
            "payee": payee,
            "deposit": deposit,
            "redeemed": redeemed,
        }

    def unallocated_pool(self) -> int:
        """The sum of every payee's pool (``pool_of`` is one payee's)."""
        return int(self.c.functions.unallocatedPool().call())


CLAIM_STATUS = ("open", "disputed", "slashed", "rejected", "expired")


@dataclass(frozen=True)
class ClaimRecord:
    """``IVerification.Claim``; ``confirmations`` counts the committee's guilty votes once
    the claim is disputed."""

    accused: str
    deadline: int
    reporter: str
    confirmations: int
    status: str
    dispute_deadline: int
    rejections: int
    session: bytes
    input_hash: bytes
    accused_output_hash: bytes
    evidence_hash: bytes
    frozen_stake: int


class Verification(ContractClient):
    NAME = "Verification"

    def post_spot_check(self, inferer: str, digest: bytes, passed: bool) -> TxReceipt:
        """One spot-check of ``inferer``'s commitment ``digest`` (once per verifier and digest)."""
        return self._tx("postSpotCheck", self.c.functions.postSpotCheck(inferer, digest, passed))

    def post_spot_checks(self, checks: list[tuple[str, bytes, bool]]) -> TxReceipt:
        """Several (inferer, commitment digest, passed) in one transaction (<= 256)."""
        inferers, digests, passed = (list(x) for x in zip(*checks, strict=True))
        return self._tx(
            "postSpotChecks", self.c.functions.postSpotChecks(inferers, digests, passed)
        )

    def is_spot_checked(self, verifier: str, digest: bytes) -> bool:
        return bool(self.c.functions.isSpotChecked(verifier, digest).call())

    def submit_fraud_claim(self, accused: str, accused_commitment: tuple[OutputCommitment, bytes],
                           conflicting: list[tuple[OutputCommitment, bytes]]) -> int:  # fmt: skip
        """The conflicting commitments must share one nonzero fingerprint hash that differs
        from the accused's (one claim per accused and session); returns the claim id."""
        a = (accused_commitment[0].as_tuple(), accused_commitment[1])
        others = [(c.as_tuple(), s) for c, s in conflicting]
        receipt = self._tx(
            "submitFraudClaim", self.c.functions.submitFraudClaim(accused, a, others)
        )
        return int(self.events(receipt, "FraudClaimSubmitted")[0]["claimId"])

    def confirm(self, claim_id: int) -> TxReceipt:
        """A guilty vote: a confirmation while open, a committee vote while disputed."""
        return self._tx("confirmClaim", self.c.functions.confirmClaim(claim_id))

    def confirm_with_signatures(self, claim_id: int, signatures: list[bytes]) -> TxReceipt:
        """Relay verifiers' EIP-712 ``FraudClaim`` signatures (open claims)."""
        return self._tx(
            "confirmClaimWithSignatures",
            self.c.functions.confirmClaimWithSignatures(claim_id, signatures),
        )

    def dispute(self, claim_id: int) -> TxReceipt:
        """The accused escalates the claim to a larger committee (challenge window only)."""
        return self._tx("dispute", self.c.functions.dispute(claim_id))

    def reject(self, claim_id: int) -> TxReceipt:
        """An innocent vote on a disputed claim (verifiers who are not its accusers)."""
        return self._tx("rejectClaim", self.c.functions.rejectClaim(claim_id))

    def execute_slash(self, claim_id: int) -> TxReceipt:
        return self._tx("executeSlash", self.c.functions.executeSlash(claim_id))

    def resolve_dispute(self, claim_id: int) -> TxReceipt:
        return self._tx("resolveDispute", self.c.functions.resolveDispute(claim_id))

    def expire(self, claim_id: int) -> TxReceipt:
        return self._tx("expireClaim", self.c.functions.expireClaim(claim_id))

    def claim(self, claim_id: int) -> ClaimRecord:
        r = list(self.c.functions.claimOf(claim_id).call())
        r[4] = CLAIM_STATUS[r[4]]
        return ClaimRecord(*r)

    def claim_status(self, claim_id: int) -> str:
        return self.claim(claim_id).status

    def claim_count(self) -> int:
        return int(self.c.functions.claimCount().call())

    def claim_id_of(self, accused: str, session: bytes) -> int | None:
        """The claim filed against ``accused`` for ``session``, if any."""
        exists, claim_id = self.c.functions.claimIdOf(accused, session).call()
        return int(claim_id) if exists else None

    def accusers_of(self, claim_id: int) -> list[str]:
        return [str(a) for a in self.c.functions.accusersOf(claim_id).call()]

    def reputation(self, inferer: str, epoch: int | None = None) -> tuple[int, int]:
        """(passed, failed) spot-checks of ``inferer`` in ``epoch`` (default: now)."""
        e = self.c.functions.currentEpoch().call() if epoch is None else epoch
        passed, failed = self.c.functions.reputationOf(inferer, e).call()
        return int(passed), int(failed)

    def reputation_total(self, inferer: str) -> tuple[int, int]:
        """(passed, failed) spot-checks of ``inferer`` over all time."""
        passed, failed = self.c.functions.reputationTotal(inferer).call()
        return int(passed), int(failed)

    def parameters(self) -> dict[str, int]:
        names = ("slash_bps", "burn_bps", "reporter_bps", "quorum", "min_conflicting",
                 "challenge_window", "claim_ttl", "dispute_window", "dispute_quorum",
                 "jail_duration", "reporter_cap")  # fmt: skip
        return dict(zip(names, (int(v) for v in self.c.functions.parameters().call()), strict=True))


@dataclass
class HelioChain:
    """Every contract of one deployment, as typed wrappers sharing one signing account."""

    w3: Web3
    deployment: Deployment
    account: LocalAccount | None = None

    @classmethod
    def open(cls, w3: Web3, network: str, account: LocalAccount | None = None,
             directory: Path = DEPLOYMENTS_DIR) -> HelioChain:  # fmt: skip
        """``ChainError`` if ``deployments/<network>.json`` is missing, is for another
        chain id, or its contracts have no code on ``w3`` (chain restarted)."""
        deployment = Deployment.load(network, directory)
        deployment.check_against(w3)
        return cls(w3, deployment, account)

    def _c(self, name: str) -> Any:
        return self.deployment.contract(self.w3, name)

    @property
    def token(self) -> Token:
        return Token(self.w3, self._c("HelioToken"), self.account)

    @property
    def staking(self) -> Staking:
        return Staking(self.w3, self._c("StakingRegistry"), self.account, self.token)

    @property
    def energy(self) -> Energy:
        return Energy(self.w3, self._c("EnergyAttestations"), self.account)

    @property
    def models(self) -> Models:
        return Models(self.w3, self._c("ModelRegistry"), self.account)

    @property
    def governor(self) -> Governor:
        return Governor(self.w3, self._c("HelioGovernor"), self.account)

    @property
    def payments(self) -> Payments:
        return Payments(self.w3, self._c("Payments"), self.account, self.token)

    @property
    def verification(self) -> Verification:
        return Verification(self.w3, self._c("Verification"), self.account)


__all__ = [
    "CLAIM_STATUS", "ClaimRecord", "ContractRevert", "Energy", "FiledProposal", "Governor", "HelioChain", "Models",
    "NodeRecord", "Payments", "StakeRecord", "Staking", "Token", "Verification",
]  # fmt: skip
