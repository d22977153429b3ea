"""`helio status` marks jailed inferers and those under an open fraud claim. The chain
is a stand-in here (the views' own behaviour is tested on anvil in
tests/contracts/test_verification_disputes.py); this checks the mapping and that an older
deployment without the views shows nothing instead of failing."""

from __future__ import annotations

from types import SimpleNamespace

from node.cli.status import _standing


def _row(address: str) -> SimpleNamespace:
    return SimpleNamespace(address=address)


def test_jailed_and_frozen_inferers_are_marked() -> None:
    staking = SimpleNamespace(is_jailed=lambda a: a == "0xJ", is_frozen=lambda a: a in ("0xJ", "0xF"))
    chain = SimpleNamespace(staking=staking)
    rows = [_row("0xJ"), _row("0xF"), _row("0xOK")]
    assert _standing(chain, rows) == {"0xJ": "jailed", "0xF": "claim open", "0xOK": ""}  # type: ignore[arg-type]
    assert _standing(None, rows) == {}  # type: ignore[arg-type]


def test_a_deployment_without_the_views_shows_nothing() -> None:
    def missing(address: str) -> bool:
        raise AttributeError("no isJailed on this deployment")

    chain = SimpleNamespace(staking=SimpleNamespace(is_jailed=missing, is_frozen=missing))
    assert _standing(chain, [_row("0xA")]) == {}  # type: ignore[arg-type]
