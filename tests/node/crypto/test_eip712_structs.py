"""node/crypto/eip712.py without a chain: type strings as Solidity spells them, digests
built by hand from the EIP-712 rules, sign/recover round trips and range checks.
(tests/contracts/test_eip712.py checks the digests against the deployed contracts.)"""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from node.chain.devkeys import DEV_ACCOUNTS
from node.core.errors import ConfigError
from node.crypto.eip712 import (
    ENERGY_DOMAIN_NAME,
    Domain,
    EnergyReport,
    FraudClaim,
    InfererState,
    OutputCommitment,
    Voucher,
    model_key,
)

ALICE, BOB = DEV_ACCOUNTS[1], DEV_ACCOUNTS[2]
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = Domain(ENERGY_DOMAIN_NAME, 31337, CONTRACT)


def report(**changes: int | str) -> EnergyReport:
    fields: dict[str, int | str] = dict(
        inferer=ALICE.address, timestamp=1_700_000_000, available_power_w=850,
        battery_soc_bps=6_500, headroom_w=400, state=InfererState.ONLINE, nonce=1,
    )  # fmt: skip
    fields.update(changes)
    return EnergyReport(**fields)  # type: ignore[arg-type]


def test_type_strings_match_solidity() -> None:
    assert EnergyReport.type_string() == (
        "EnergyReport(address inferer,uint64 timestamp,uint32 availablePowerW,"
        "uint16 batterySocBps,uint32 headroomW,uint8 state,uint64 nonce)"
    )
    assert Voucher.type_string() == (
        "Voucher(address client,address payee,uint256 channel,bytes32 modelId,"
        "uint256 cumulativeAmount,uint64 expiry)"
    )
    assert OutputCommitment.type_string() == (
        "OutputCommitment(bytes32 session,uint32 step,bytes32 inputHash,bytes32 outputHash,"
        "bytes32 fingerprintHash)"
    )
    assert FraudClaim.type_string() == (
        "FraudClaim(address accused,address reporter,bytes32 inputHash,"
        "bytes32 accusedOutputHash,bytes32 evidenceHash)"
    )


def test_energy_digest_equals_the_eip712_rules_by_hand() -> None:
    r = report()
    domain_sep = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak(text=ENERGY_DOMAIN_NAME), keccak(text="1"), 31337, CONTRACT,
            ],
        )
    )  # fmt: skip
    struct_hash = keccak(
        encode(
            ["bytes32", "address", "uint64", "uint32", "uint16", "uint32", "uint8", "uint64"],
            [EnergyReport.typehash(), *r.as_tuple()],
        )
    )
    assert r.digest(DOMAIN) == keccak(b"\x19\x01" + domain_sep + struct_hash)


def test_sign_recover_round_trip_and_domain_binding() -> None:
    r = report()
    signature = r.sign(ALICE.private_key, DOMAIN)
    assert len(signature) == 65
    assert r.recover(signature, DOMAIN) == ALICE.address
    other_chain = Domain(ENERGY_DOMAIN_NAME, 1, CONTRACT)
    assert r.recover(signature, other_chain) != ALICE.address
    assert report(nonce=2).recover(signature, DOMAIN) != ALICE.address


def test_voucher_commitment_and_claim_sign() -> None:
    v = Voucher(ALICE.address, BOB.address, 1, model_key("smollm2-135m-instruct"), 10**18, 2**40)
    d = Domain("Heliomesh Payments", 31337, CONTRACT)
    assert v.recover(v.sign(ALICE.private_key, d), d) == ALICE.address
    c = OutputCommitment(b"\x01" * 32, 3, b"\x02" * 32, "0x" + "03" * 32)
    assert c.output_hash == b"\x03" * 32
    d = Domain("Heliomesh Verification", 31337, CONTRACT)
    assert c.recover(c.sign(BOB.private_key, d), d) == BOB.address


def test_model_key_is_keccak_of_the_id() -> None:
    assert model_key("smollm2-135m-instruct") == keccak(b"smollm2-135m-instruct")
    with pytest.raises(ConfigError, match="invalid model id"):
        model_key("SmolLM2.135m")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"battery_soc_bps": 10_001}, "batterySocBps=10001 exceeds 10000"),
        ({"state": 5}, "not an InfererState"),
        ({"timestamp": 2**64}, "out of range for uint64"),
        ({"headroom_w": -1}, "out of range for uint32"),
        ({"inferer": "0x1234"}, "must be an address"),
    ],
)
def test_bad_fields_are_refused(changes: dict[str, int | str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        report(**changes)
