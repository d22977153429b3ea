"""``measure_attestation_gas``: the gas an inferer's energy reports cost on a real chain.

Starts anvil, deploys the contracts (``deploy_all``) and registers ``batch`` fresh
inferers (each one's attestation key is its own key). Each inferer posts its first
report with ``submit`` (a fresh storage slot), then one more (a slot update: the steady
state). Finally a relay posts one report of every inferer in one ``submitBatch`` (slot
updates, amortised transaction overhead). With the posting policy (one report per
``interval_s`` plus one per state change) that gives the gas per inferer per day.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from node.chain import Anvil, connect, deploy_all, ensure_compiled, local_account, transact
from node.chain.devkeys import DEV_ACCOUNTS
from node.crypto.eip712 import Domain
from node.energy.attest import ChainPoster, EnergyAttester, EnergyPayload, PostingPolicy
from node.energy.controller import Decision
from node.energy.reading import EnergyReading
from node.energy.state import InfererState


def measure_attestation_gas(
    *, interval_s: float = 3600.0, transitions_per_day: float = 4.0, batch: int = 8
) -> dict[str, Any]:
    ensure_compiled()
    t0 = time.perf_counter()
    with Anvil() as anvil, tempfile.TemporaryDirectory() as tmp:
        w3 = connect(anvil.rpc_url, expected_chain_id=anvil.chain_id)
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "gas", directory=Path(tmp))
        energy = deployment.contract(w3, "EnergyAttestations")
        staking = deployment.contract(w3, "StakingRegistry")
        domain = Domain.of(energy)
        relay = local_account(DEV_ACCOUNTS[0].private_key)

        def chain_time() -> float:
            return float(w3.eth.get_block("latest")["timestamp"])

        attesters = []
        for i in range(batch):
            acct = Account.from_key(_key_for(f"heliomesh energy gas {i}"))
            w3.provider.make_request("anvil_setBalance", [acct.address, hex(10**20)])  # type: ignore[arg-type]
            me = local_account(acct.key.hex())
            transact(w3, me, staking.functions.register(f"12D3KooWenergygas{i}", acct.address, "UTC+1", 8))
            attesters.append(
                (me, EnergyAttester(acct.address, acct.key.hex(), domain,
                                    policy=PostingPolicy(min_interval_s=0.0), wall_clock=chain_time))
            )

        def sign(att: EnergyAttester, state: InfererState) -> EnergyPayload:
            reading = EnergyReading(chain_time(), "gas", 1500.0, 900.0, 0.7)
            att(0.0, reading, Decision(state, None, 8, 800.0, 0.7, False, True))
            assert att.latest is not None
            return att.latest

        first: list[int] = []
        update: list[int] = []
        for me, att in attesters:
            def send(call: Any, me: LocalAccount = me) -> TxReceipt:  # call: a web3 contract call
                return transact(w3, me, call)

            own = ChainPoster(energy, send)
            own.submit_now([sign(att, InfererState.LOADING)])
            own.submit_now([sign(att, InfererState.ONLINE)])
            own.close()
            if own.errors:
                raise RuntimeError(f"posting failed: {own.errors[-1]}")
            first.append(int(own.receipts[0]["gasUsed"]))
            update.append(int(own.receipts[1]["gasUsed"]))
        relayed = ChainPoster(energy, lambda call: transact(w3, relay, call))
        relayed.submit_now([sign(att, InfererState.ONLINE) for _, att in attesters])
        relayed.close()
        if relayed.errors:
            raise RuntimeError(f"batch posting failed: {relayed.errors[-1]}")
        batch_gas = int(relayed.receipts[0]["gasUsed"])
        for _, att in attesters:  # every report of the batch is the inferer's latest
            assert energy.functions.latest(att.inferer).call()[5] == att._nonce  # noqa: SLF001
    submit_gas = sum(update) / len(update)
    per_report = batch_gas / batch
    posts_per_day = 86400.0 / interval_s + transitions_per_day
    return {
        "submit_first_gas": round(sum(first) / len(first)),
        "submit_gas": round(submit_gas),
        "submit_batch_gas": batch_gas,
        "batch_size": batch,
        "batch_gas_per_report": round(per_report),
        "policy_interval_s": interval_s,
        "transitions_per_day": transitions_per_day,
        "posts_per_inferer_day": round(posts_per_day, 2),
        "gas_per_inferer_day_direct": round(posts_per_day * submit_gas),
        "gas_per_inferer_day_batched": round(posts_per_day * per_report),
        "seconds": round(time.perf_counter() - t0, 2),
        "chain": "anvil (local)",
    }


def _key_for(text: str) -> bytes:
    """A deterministic throwaway key from a name (local chain only)."""
    from eth_utils.crypto import keccak

    return keccak(text=text)
