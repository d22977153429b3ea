"""Every custom error of our contracts decodes from raw revert bytes into a sentence with
a remedy (node/chain/reverts.py), whichever contract raised it."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector

from node.chain.artifacts import load_artifact
from node.chain.reverts import (
    KNOWN_CONTRACTS,
    decode_revert,
    describe_revert,
    explain,
    explained_errors,
)
from node.core.errors import ChainError

# Errors a user of our contracts can meet: every project error plus the library ones our
# flows hit (balances, roles, proposal and timelock states).
_PROJECT_PREFIXES = ("Staking", "Payments", "Model", "Verification", "Energy", "HelioToken",
                     "Faucet")
_USER_FACING_LIBRARY_ERRORS = {
    "ERC20InsufficientBalance",
    "ERC20InsufficientAllowance",
    "GovernorUnexpectedProposalState",
    "GovernorInsufficientProposerVotes",
    "GovernorAlreadyCastVote",
    "TimelockUnexpectedOperationState",
    "AccessControlUnauthorizedAccount",
}
_GENERIC = "See docs/contracts.md for this error."


def _errors() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in KNOWN_CONTRACTS:
        try:
            artifact = load_artifact(name)
        except ChainError:
            continue  # a contract not (yet) in this build
        for item in artifact.abi:
            if item["type"] == "error":
                found[item["name"]] = item
    return found


def _zero(abi_type: str) -> Any:
    if abi_type.endswith("[]"):
        return []
    if abi_type == "address":
        return "0x" + "00" * 20
    if abi_type == "string":
        return "x"
    if abi_type == "bool":
        return False
    if abi_type.startswith("bytes"):
        return b"\x00" * (int(abi_type[5:]) if abi_type[5:] else 1)
    return 1


def test_every_user_facing_error_has_a_sentence() -> None:
    errors = _errors()
    assert len(errors) > 60  # the build is there and read
    needed = {
        n for n in errors if n.startswith(_PROJECT_PREFIXES) or n in _USER_FACING_LIBRARY_ERRORS
    }
    missing = sorted(needed - explained_errors())
    assert not missing, f"add these to node/chain/reverts.py: {missing}"
    for name in needed:
        item = errors[name]
        args = tuple(_zero(i["type"]) for i in item["inputs"])
        text = explain(name, args)
        assert text != _GENERIC and len(text) > 15, (name, text)


def _revert_bytes(item_name: str, types: list[str], values: list[Any]) -> str:
    selector = function_signature_to_4byte_selector(f"{item_name}({','.join(types)})")
    return "0x" + (selector + encode(types, values)).hex()


def test_a_timelock_revert_from_a_governor_call_is_named_and_explained() -> None:
    # What `helio model execute` got before the delay passed: the timelock's raw bytes.
    data = _revert_bytes("TimelockUnexpectedOperationState", ["bytes32", "bytes32"],
                         [b"\x11" * 32, (1 << 2).to_bytes(32, "big")])
    name, args = decode_revert(data, "HelioGovernor")
    assert name == "TimelockUnexpectedOperationState"
    text = describe_revert("HelioGovernor.execute", name, args)
    assert "Ready" in text and "delay" in text


def test_proposal_states_are_words() -> None:
    data = _revert_bytes("GovernorUnexpectedProposalState", ["uint256", "uint8", "bytes32"],
                         [7, 4, (1 << 1).to_bytes(32, "big")])
    name, args = decode_revert(data)
    assert name == "GovernorUnexpectedProposalState"
    text = explain(name, args)
    assert "is Succeeded" in text and "needs it Active" in text


def test_balances_are_in_helio_and_name_the_remedy() -> None:
    text = explain("ERC20InsufficientBalance", ("0xabc", 5 * 10**17, 1000 * 10**18))
    assert "0.5 HELIO" in text and "1000 HELIO" in text and "helio wallet" in text


def test_unknown_revert_data_is_kept_raw() -> None:
    assert decode_revert("0xdeadbeef") == ("UnknownError", ("0xdeadbeef",))
    assert explain("NoSuchError", ()) == _GENERIC


@pytest.mark.parametrize("seconds,words", [(0, "0 s"), (59, "59 s"), (3600 * 49, "2 d 1 h"),
                                           (125, "2 min 5 s")])
def test_durations_read_as_words(seconds: int, words: str) -> None:
    from node.chain.reverts import duration

    assert duration(seconds) == words
