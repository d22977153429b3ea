"""Gas of k-of-n claim confirmations: k separate ``confirmClaim`` transactions, k ECDSA
``FraudClaim`` signatures relayed in one ``confirmClaimWithSignatures``, and a BLS
aggregate over BN254 (issue #13: "measure its gas against k separate confirmations,
keep the cheaper one").

The BLS side is measured where its cost is fixed by the chain: one real aggregate
signature (py-ecc, signatures in G1, keys in G2) checked by the pairing precompile (0x08)
on anvil, two pairs, ``eth_estimateGas`` minus the 21 000 base and the calldata. A
contract would add on top: hashing the claim to G1, aggregating the k keys (G2 additions
have no precompile: the keys would have to be pre-aggregated or checked against a G1
sum with a third pair) and recording the k signers (the same per-signer storage the
ECDSA path pays). So the measured number is a lower bound of the BLS path.

Run: ``python -m node.bench.confirm_gas`` (prints JSON).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

PAIRING = "0x0000000000000000000000000000000000000008"


def _calldata_gas(data: bytes) -> int:
    return sum(4 if b == 0 else 16 for b in data)


def bls_pairing_gas(w3: Any, k: int) -> dict[str, int]:
    """A k-signer BLS aggregate checked with one 2-pair pairing on ``w3``'s chain."""
    from py_ecc import optimized_bn128 as bn

    G1, G2, add, multiply, neg, normalize, pairing = (
        bn.G1, bn.G2, bn.add, bn.multiply, bn.neg, bn.normalize, bn.pairing,  # type: ignore[attr-defined]
    )  # fmt: skip

    message = multiply(G1, 0xC0FFEE)  # stands in for hash-to-G1 of the FraudClaim digest
    keys = [1000 + i for i in range(k)]
    sig = multiply(message, keys[0])
    apk = multiply(G2, keys[0])
    for sk in keys[1:]:
        sig, apk = add(sig, multiply(message, sk)), add(apk, multiply(G2, sk))
    assert pairing(apk, message) == pairing(G2, sig)  # the aggregate verifies off chain too

    def g1(p: Any) -> bytes:
        x, y = normalize(p)
        return int(x.n).to_bytes(32, "big") + int(y.n).to_bytes(32, "big")

    def g2(p: Any) -> bytes:
        x, y = normalize(p)  # EIP-197 order: imaginary part first
        return b"".join(
            int(c).to_bytes(32, "big") for c in (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0])
        )

    data = g1(sig) + g2(neg(G2)) + g1(message) + g2(apk)  # e(sig, -G2) * e(H(m), apk) == 1
    out = w3.eth.call({"to": PAIRING, "data": "0x" + data.hex()})
    assert int.from_bytes(out, "big") == 1, "the pairing precompile rejected a valid aggregate"
    gas = int(w3.eth.estimate_gas({"to": PAIRING, "data": "0x" + data.hex()}))
    return {"pairing_check": gas - 21_000 - _calldata_gas(data), "tx_total": gas}


def measure(ks: tuple[int, ...] = (1, 2, 3, 4, 8)) -> dict[str, Any]:
    from eth_account.signers.local import LocalAccount
    from web3.logs import DISCARD

    from node.bench.chain import _as_timelock, _Bench
    from node.chain.anvil import Anvil
    from node.chain.artifacts import ensure_compiled
    from node.chain.connect import connect, local_account
    from node.chain.deploy import deploy_all
    from node.chain.devkeys import DEV_ACCOUNTS
    from node.chain.params import ChainParams, DemoModel
    from node.crypto.eip712 import Domain, FraudClaim, OutputCommitment

    ensure_compiled()
    p = ChainParams(
        demo_model=DemoModel(manifest_cid="QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")
    )
    result: dict[str, Any] = {"separate": {}, "relayed_ecdsa": {}, "bls_lower_bound": {}}
    with Anvil() as anvil, tempfile.TemporaryDirectory() as tmp:
        w3 = connect(anvil.rpc_url)
        d = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "bench", directory=Path(tmp), params=p)
        c = {n: d.contract(w3, n) for n in d.contracts}
        b = _Bench(w3, c, local_account(DEV_ACCOUNTS[0].private_key))
        ver, staking = c["Verification"], c["StakingRegistry"]
        b.send(b.deployer, staking.functions.register("12D3KooWref", b.deployer.address, "UTC", 0))
        b.send(b.deployer, c["HelioToken"].functions.approve(staking.address, 2**255))
        b.send(b.deployer, staking.functions.stake(p.min_stake))
        domain = Domain.of(ver)
        accused, x, y = (b.inferer(10 * p.min_stake) for _ in range(3))
        role = ver.functions.VERIFIER_ROLE().call()
        refs = [b.inferer(p.min_stake) for _ in range(max(ks))]
        for ref in refs:
            _as_timelock(b, ver.functions.grantRole(role, ref.address))
        session = iter(range(1, 1000))

        def new_claim() -> int:
            s = next(session).to_bytes(32, "big")

            def commit(who: LocalAccount, out: bytes, fp: bytes) -> tuple[Any, bytes]:
                oc = OutputCommitment(s, 1, b"\x11" * 32, out, fp)
                return oc.as_tuple(), oc.sign(who.key, domain)

            args = (accused.address, commit(accused, b"\xaa" * 32, b"\xf1" * 32),
                    [commit(x, b"\xbb" * 32, b"\xf2" * 32), commit(y, b"\xbc" * 32, b"\xf2" * 32)])  # fmt: skip
            receipt = b.send(b.deployer, ver.functions.submitFraudClaim(*args))
            return int(
                ver.events.FraudClaimSubmitted()
                .process_receipt(receipt, errors=DISCARD)[0]
                .args["claimId"]
            )

        for k in ks:
            cid = new_claim()
            total = sum(
                int(b.send(r, ver.functions.confirmClaim(cid))["gasUsed"]) for r in refs[:k]
            )
            result["separate"][k] = total
            cid = new_claim()
            cl = ver.functions.claimOf(cid).call()
            fc = FraudClaim(cl[0], cl[2], cl[8], cl[9], cl[10])
            sigs = [fc.sign(r.key, domain) for r in refs[:k]]
            receipt = b.send(b.deployer, ver.functions.confirmClaimWithSignatures(cid, sigs))
            result["relayed_ecdsa"][k] = int(receipt["gasUsed"])
            result["bls_lower_bound"][k] = bls_pairing_gas(w3, k)
    return result


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
