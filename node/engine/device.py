"""Where a span (or the client's head) runs: ``--device auto|cpu|cuda|cuda:N|mps``.

``resolve_device`` turns the option into a ``torch.device`` and refuses a device this
torch cannot see with a clear error (the CPU wheel of ``make setup`` sees no GPU; the
same code runs unchanged with a CUDA build of torch). ``default_dtype`` is the weights'
dtype when none is asked for: fp32 on the CPU (exact, and the fast int8 path starts from
it), bf16 on CUDA where the GPU has it (fp32's range, half the bytes), else fp16.
"""

from __future__ import annotations

import torch

from node.core.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(ConfigError):
    """The requested device does not exist here."""


def resolve_device(name: str) -> torch.device:
    kind, _, index = name.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            build = "the CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            raise DeviceError(
                f"--device {name}: torch {torch.__version__} ({build}) sees no CUDA GPU here; "
                "use --device cpu, or install a CUDA build of torch on a machine with an NVIDIA GPU"
            )
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            raise DeviceError(f"--device {name}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    if kind == "mps" and not _mps_available():
        raise DeviceError(f"--device {name}: torch sees no Apple GPU (MPS) here; use --device cpu")
    return torch.device(name)


def default_dtype(device: torch.device) -> str:
    """The converted copy (``--dtype``) to serve when none is named."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp16" if device.type == "mps" else "fp32"


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (timings on a GPU); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
