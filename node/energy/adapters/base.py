"""The one interface every inverter adapter implements, and the adapter registry.

An adapter is one file in ``node/energy/adapters/`` with a class that

- subclasses ``EnergyAdapter`` and is decorated ``@register("<name>")``;
- takes its options as keyword arguments (strings from the CLI/config are converted by
  the adapter itself, so ``make_adapter("fronius", host="10.0.0.5")`` works);
- implements ``read(self_draw_w)`` returning an ``EnergyReading`` or raising
  ``AdapterError`` (never returns made-up values), and optionally ``close()``.

``self_draw_w`` is the inferer's own mean draw since the previous read: adapters that
measure the whole house (a grid meter, Fronius ``P_Load``) subtract it so that
``headroom_w`` is the power left for the inferer. Reads are blocking; the runner calls
them in a worker thread. Finally import the module in ``adapters/__init__.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from node.core.errors import ConfigError, HeliomeshError
from node.energy.reading import EnergyReading


class AdapterError(HeliomeshError):
    """An inverter could not be read (unreachable, bad answer). The controller counts it
    as no headroom; check the adapter's host/port and that the inverter API is on."""


class EnergyAdapter(ABC):
    name: str = "?"

    @abstractmethod
    def read(self, self_draw_w: float = 0.0) -> EnergyReading:
        """One fresh reading. Raises ``AdapterError`` when the source cannot be read."""

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections (optional)."""

    def describe(self) -> dict[str, Any]:
        """Non-secret settings, for logs and the dashboard."""
        return {"adapter": self.name}


ADAPTERS: dict[str, type[EnergyAdapter]] = {}
A = TypeVar("A", bound=type[EnergyAdapter])


def register(name: str) -> Callable[[A], A]:
    def deco(cls: A) -> A:
        if name in ADAPTERS:
            raise RuntimeError(f"energy adapter {name!r} registered twice")
        cls.name = name
        ADAPTERS[name] = cls
        return cls

    return deco


def make_adapter(name: str, **options: Any) -> EnergyAdapter:
    """Build the adapter called ``name`` with its options."""
    cls = ADAPTERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown energy adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"energy adapter {name!r}: bad options {sorted(options)}: {exc}") from exc


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``["host=10.0.0.5", "port=502"]`` → ``{"host": "10.0.0.5", "port": "502"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"adapter option {pair!r} must look like key=value")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def as_float(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be a number, got {value!r}") from exc


def as_optional_float(value: Any, what: str) -> float | None:
    if value is None or value == "" or str(value).lower() == "none":
        return None
    return as_float(value, what)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
