"""Inferer states, shared by the controller, the attestations and the referee.

The integer codes are the ``uint8 state`` of the EIP-712 ``EnergyReport`` struct
(``node/crypto/eip712.py``): keep them stable.
"""

from __future__ import annotations

from enum import IntEnum


class InfererState(IntEnum):
    """``joining → loading → online → draining → offline`` (then ``loading`` again)."""

    JOINING = 0  # started, no energy decision yet, model not loaded
    LOADING = 1  # loading the model (draws power, serves nothing)
    ONLINE = 2  # serving sessions
    DRAINING = 3  # no new sessions; finishing or handing over in-flight ones
    OFFLINE = 4  # model unloaded, memory freed

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (and the machine draws serving power)."""
        return self in (InfererState.LOADING, InfererState.ONLINE, InfererState.DRAINING)

    @property
    def label(self) -> str:
        return self.name.lower()
