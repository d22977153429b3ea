"""``helio bench chain``: every measured call ran and the issue's gas ceilings hold
(gas is deterministic, so this guards against regressions)."""

from __future__ import annotations

import pytest

from node.bench.chain import GOALS, bench_chain

pytestmark = pytest.mark.chain


def test_bench_chain_meets_the_gas_goals() -> None:
    result = bench_chain()
    expected = {"register", "stake", "unstake", "withdraw", "submit attestation", "propose", "vote",
                "execute adoption", "post fraud claim", "slash", "deposit (open channel)",
                "redeem voucher", "batch redeem of 50 (per voucher)", "claim", *GOALS}  # fmt: skip
    assert expected <= set(result["gas"])
    assert all(0 < g < 1_000_000 for g in result["gas"].values())
    for name, goal in result["goals"].items():
        assert goal["met"], f"{name}: {goal['gas']} gas > {goal['goal']}"
