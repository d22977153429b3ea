"""Errors about model families (raised while loading a span or a client)."""

from __future__ import annotations

from node.core.errors import HeliomeshError


class UnknownFamilyError(HeliomeshError):
    """The manifest names a model family that has no adapter in ``node/models``."""


class UnsupportedConfigError(HeliomeshError):
    """The family is known but this config uses a feature the engine cannot run exactly."""
