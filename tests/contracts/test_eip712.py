"""The EIP-712 digests node/crypto/eip712.py computes equal the deployed contracts' own
(``hashReport``, ``hashVoucher``, ``hashCommitment``, ``hashFraudClaim``), over random
field values, and each contract's typehash equals the Python type string's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract

from node.crypto.eip712 import (
    ENERGY_DOMAIN_NAME,
    PAYMENTS_DOMAIN_NAME,
    VERIFICATION_DOMAIN_NAME,
    Domain,
    EnergyReport,
    FraudClaim,
    OutputCommitment,
    Voucher,
)  # fmt: skip

pytestmark = pytest.mark.chain
FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

addresses = st.binary(min_size=20, max_size=20).map(lambda b: Web3.to_checksum_address(b))
b32 = st.binary(min_size=32, max_size=32)


def uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(0, 2**bits - 1)


def test_domains_match(w3: Web3, contracts: dict[str, Contract]) -> None:
    for name, expected in (
        ("EnergyAttestations", ENERGY_DOMAIN_NAME),
        ("Payments", PAYMENTS_DOMAIN_NAME),
        ("Verification", VERIFICATION_DOMAIN_NAME),
    ):
        domain = Domain.of(contracts[name])
        assert (domain.name, domain.version, domain.chain_id) == (expected, "1", w3.eth.chain_id)
        assert domain.verifying_contract == contracts[name].address


def test_typehashes_match(contracts: dict[str, Contract]) -> None:
    assert (
        contracts["EnergyAttestations"].functions.ENERGY_REPORT_TYPEHASH().call()
        == EnergyReport.typehash()
    )
    assert contracts["Payments"].functions.VOUCHER_TYPEHASH().call() == Voucher.typehash()
    v = contracts["Verification"].functions
    assert v.OUTPUT_COMMITMENT_TYPEHASH().call() == OutputCommitment.typehash()
    assert v.FRAUD_CLAIM_TYPEHASH().call() == FraudClaim.typehash()


@FAST
@given(
    st.tuples(
        addresses, uint(64), uint(32), st.integers(0, 10_000), uint(32), st.integers(0, 4), uint(64)
    )
)
def test_energy_report_digest(contracts: dict[str, Contract], fields: tuple) -> None:
    c = contracts["EnergyAttestations"]
    r = EnergyReport(*fields)
    assert c.functions.hashReport(r.as_tuple()).call() == r.digest(Domain.of(c))


@FAST
@given(st.tuples(addresses, addresses, uint(256), b32, uint(256), uint(64)))
def test_voucher_digest(contracts: dict[str, Contract], fields: tuple) -> None:
    c = contracts["Payments"]
    v = Voucher(*fields)
    assert c.functions.hashVoucher(v.as_tuple()).call() == v.digest(Domain.of(c))


@FAST
@given(b32, uint(32), b32, b32, addresses, addresses, b32)
def test_commitment_and_claim_digests(contracts: dict[str, Contract], session: bytes, step: int,
                                      inp: bytes, out: bytes, a1: str, a2: str, ev: bytes) -> None:  # fmt: skip
    c = contracts["Verification"]
    domain = Domain.of(c)
    oc = OutputCommitment(session, step, inp, out, ev)  # ev doubles as the fingerprint hash
    assert c.functions.hashCommitment(oc.as_tuple()).call() == oc.digest(domain)
    fc = FraudClaim(a1, a2, inp, out, ev)
    assert c.functions.hashFraudClaim(fc.as_tuple()).call() == fc.digest(domain)
