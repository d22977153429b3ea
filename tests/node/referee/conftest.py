"""Referee test fixtures: a tiny random llama written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.models.tiny import write_tiny_model


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model("llama", tmp_path_factory.mktemp("tiny") / "llama", seed=7)
