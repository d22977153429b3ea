"""``TtlMemo``: answers from the chain remembered for ``ttl_s`` seconds, shared by the
referee's chain-backed checks (``stake.StakeCache``, ``energy_keys.AttestationKeys``) and the
gateway's ``ModelCatalog``.

Thread-safe; the lookup itself runs outside the lock (a slow RPC must not block other
keys), so two threads may both ask for the same key at once: harmless, the last wins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlMemo(Generic[K, V]):
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._answers: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, ask: Callable[[], V]) -> V:
        """The answer for ``key`` remembered within ``ttl_s``, else ``ask()`` (remembered)."""
        now = time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None and now - cached[1] < self.ttl_s:
                return cached[0]
        answer = ask()
        with self._lock:
            self._answers[key] = (answer, now)
        return answer

    def forget(self, key: K | None = None) -> None:
        """Drop one remembered answer (or all): the next ``get`` asks again."""
        with self._lock:
            if key is None:
                self._answers.clear()
            else:
                self._answers.pop(key, None)
