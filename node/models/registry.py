"""Family adapters by transformers ``model_type`` (the manifest's ``family``).

Built-in families live in ``node/models/<family>/`` and register themselves with
``@register`` when their package is imported; ``get_family`` imports them on first use.
"""

from __future__ import annotations

import importlib

from node.models.errors import UnknownFamilyError
from node.models.family import Family

BUILTIN_PACKAGES = ("llama", "mistral", "qwen2", "qwen3", "gemma3")

_FAMILIES: dict[str, Family] = {}
_loaded = False


def register(cls: type[Family]) -> type[Family]:
    """Class decorator: make ``cls`` the adapter for ``cls.model_type``."""
    if cls.model_type in _FAMILIES and type(_FAMILIES[cls.model_type]) is not cls:
        raise ValueError(f"family {cls.model_type!r} is registered twice")
    _FAMILIES[cls.model_type] = cls()
    return cls


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        for name in BUILTIN_PACKAGES:
            importlib.import_module(f"node.models.{name}")
        _loaded = True


def families() -> dict[str, Family]:
    _load_builtin()
    return dict(_FAMILIES)


def get_family(model_type: str) -> Family:
    """The adapter for ``model_type``, or UnknownFamilyError naming the known ones."""
    _load_builtin()
    try:
        return _FAMILIES[model_type]
    except KeyError:
        raise UnknownFamilyError(
            f"no adapter for model family {model_type!r}; known: {', '.join(sorted(_FAMILIES))}. "
            "See docs/model-porting.md to add one"
        ) from None
