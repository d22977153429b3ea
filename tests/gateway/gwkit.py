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
