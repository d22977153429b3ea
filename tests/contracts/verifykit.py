"""Helpers of the Verification tests (imported as ``verifykit``, like ``chainkit``).

A world: the accused ``alice`` (10 × the minimum stake), the independent re-executors
``bob`` and ``carol`` (inferers), and verifiers ``ref1`` (the deployer, VERIFIER_ROLE at
deployment) and ``ref2``..``ref5`` (granted by the Timelock), all staked. Fingerprint
hashes: the accused's ``FP_LIE``, the independents' ``FP_TRUE``.
"""

from __future__ import annotations

from typing import Any

from chainkit import DEPLOYER, MIN_STAKE, as_timelock, events, make_inferer, send
from web3 import Web3
from web3.contract import Contract

from node.chain.devkeys import DevAccount
from node.crypto.eip712 import Domain, OutputCommitment

V = "Verification"
INPUT = b"\x11" * 32
SESSION = b"\x05" * 32
FP_LIE, FP_TRUE = b"\xf1" * 32, b"\xf2" * 32


def make_world(w3: Web3, contracts: dict[str, Contract], verifiers: int = 2) -> dict[str, Any]:
    staking, token, ver = contracts["StakingRegistry"], contracts["HelioToken"], contracts[V]
    send(w3, DEPLOYER, staking.functions.register("12D3KooWref1", DEPLOYER.address, "UTC", 0))
    send(w3, DEPLOYER, token.functions.approve(staking.address, MIN_STAKE))
    send(w3, DEPLOYER, staking.functions.stake(MIN_STAKE))
    world: dict[str, Any] = {"ref1": DEPLOYER}
    role = ver.functions.VERIFIER_ROLE().call()
    for i in range(2, verifiers + 1):
        ref = make_inferer(w3, contracts, f"ref{i}")
        as_timelock(
            w3, contracts["HelioTimelock"].address, ver.functions.grantRole(role, ref.address)
        )
        world[f"ref{i}"] = ref
    for name in ("alice", "bob", "carol"):
        world[name] = make_inferer(w3, contracts, name, stake=10 * MIN_STAKE)
    return world


def commit(ver: Contract, who: DevAccount, out: bytes, fp: bytes, *, inp: bytes = INPUT,
           step: int = 3, session: bytes = SESSION) -> tuple[tuple[Any, ...], bytes]:  # fmt: skip
    c = OutputCommitment(session, step, inp, out, fp)
    return c.as_tuple(), c.sign(who.private_key, Domain.of(ver))


def evidence(ver: Contract, world: dict[str, Any], **kw: Any) -> tuple[Any, list[Any]]:
    """The accused's lying commitment and two agreeing independent ones."""
    accused = commit(ver, world["alice"], b"\xaa" * 32, FP_LIE, **kw)
    others = [commit(ver, world["bob"], b"\xbb" * 32, FP_TRUE, **kw),
              commit(ver, world["carol"], b"\xbc" * 32, FP_TRUE, **kw)]  # fmt: skip
    return accused, others


def claim(w3: Web3, ver: Contract, world: dict[str, Any], reporter: DevAccount = DEPLOYER,
          **kw: Any) -> int:  # fmt: skip
    accused, others = evidence(ver, world, **kw)
    receipt = send(
        w3, reporter, ver.functions.submitFraudClaim(world["alice"].address, accused, others)
    )
    return int(events(ver, receipt, "FraudClaimSubmitted")[0]["claimId"])
