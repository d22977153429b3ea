"""``AdmissionQueue``: sessions that find the swarm full wait here (FIFO) for up to
``max_wait_s`` before getting the clear "at capacity" answer.

The planner calls ``push`` when ``EnergyScheduler.admit`` raised ``AtCapacityError``, and
``pump(now, try_admit)`` whenever capacity may have changed (a session ended, a claim
arrived, or once a second): ``try_admit(session)`` plans and admits one session and
returns False when it still does not fit. ``pump`` stops at the first one that does
not fit, so waiting sessions keep their order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from node.core.errors import ConfigError
from node.referee.energy import AtCapacityError


class AdmissionQueue:
    def __init__(self, max_wait_s: float = 30.0, max_len: int = 1000) -> None:
        if max_wait_s < 0 or max_len < 0:
            raise ConfigError("max_wait_s and max_len must be >= 0")
        self.max_wait_s = max_wait_s
        self.max_len = max_len
        self._waiting: OrderedDict[str, float] = OrderedDict()  # session -> enqueued at

    def __len__(self) -> int:
        return len(self._waiting)

    def push(self, session: str, now: float) -> None:
        """Queue ``session``; ``AtCapacityError`` at once if the queue itself is full."""
        if len(self._waiting) >= self.max_len or self.max_wait_s == 0:
            raise AtCapacityError(
                f"the swarm is at capacity and {len(self._waiting)} sessions already wait; "
                "retry in a minute"
            )
        self._waiting[session] = now

    def expire(self, now: float) -> list[str]:
        """Drop and return the sessions that waited longer than ``max_wait_s``."""
        refused = [s for s, t in self._waiting.items() if now - t > self.max_wait_s]
        for s in refused:
            del self._waiting[s]
        return refused

    def waiting(self) -> list[str]:
        """The waiting sessions, first come first."""
        return list(self._waiting)

    def pump(self, now: float, try_admit: Callable[[str], bool]) -> tuple[list[str], list[str]]:
        """Admit what fits, in order; expire what waited too long.
        Returns ``(admitted, refused)``. (An async caller whose ``try_admit`` must await
        does the same with ``expire``, ``waiting`` and ``cancel``.)"""
        refused = self.expire(now)
        admitted = []
        for session in list(self._waiting):
            if not try_admit(session):
                break
            del self._waiting[session]
            admitted.append(session)
        return admitted, refused

    def cancel(self, session: str) -> bool:
        return self._waiting.pop(session, None) is not None
