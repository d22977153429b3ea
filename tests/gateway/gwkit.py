"""Shared constants and helpers of the gateway tests (imported as ``gwkit``)."""

from __future__ import annotations

from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "gateway" / "web"

MODEL = "smollm2-135m-instruct"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]

from node.chain.devkeys import DEV_ACCOUNTS  # noqa: E402

CLIENT = DEV_ACCOUNTS[2]  # PUBLIC anvil dev keys: test use only
OTHER = DEV_ACCOUNTS[3]
INFERER = DEV_ACCOUNTS[4]


def wait_for_coverage(client: object, model: str = MODEL, timeout: float = 90.0) -> None:
    """The inferers are up; wait until their announcements (with energy) show in the DHT."""
    import time

    deadline = time.monotonic() + timeout
    spans: set[tuple[int, int]] = set()
    while time.monotonic() < deadline:
        records = client.records(model, 30).values()  # type: ignore[attr-defined]
        spans = {(r.start, r.end) for r in records if r.energy is not None}
        if {(0, 15), (15, 30)} <= spans:
            return
        time.sleep(1)
    raise AssertionError(f"the DHT never showed both spans with energy (saw {spans})")
