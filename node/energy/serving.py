"""``ServingHost``: what the energy runner loads and unloads. The inferer's
implementation is ``node.inferer.energy``'s, over its ``InfererServer`` and the engine's
``SpanHost``; the energy tests use a flag-only fake."""

from __future__ import annotations

from typing import Protocol


class ServingHost(Protocol):
    async def load(self) -> None:
        """Load the model (blocks until it can serve)."""
        ...

    async def drain(self, timeout_s: float) -> None:
        """Accept no new sessions; wait up to ``timeout_s`` for the open ones."""
        ...

    async def unload(self) -> None:
        """Drop the model and free its memory."""
        ...

    def set_capacity(self, sessions: int) -> None:
        """How many concurrent sessions the energy budget allows now."""
        ...

    def active_sessions(self) -> int: ...
