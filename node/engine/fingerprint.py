"""Output fingerprints that honest executions agree on despite float noise (TOPLOC-style).

A span step's output is hidden states (1, T, H). Its fingerprint keeps, at up to
``MAX_POSITIONS`` token positions (every position of a decode or short step; evenly
spaced ones and always the last of a long prefill), the ``k`` coordinates of largest
magnitude: their indices and their values rounded to float16 after division by a power
of two per position (float16's precision, any range: Gemma-3's residual stream holds
values near 1e5, past float16's 65,504, and a clamp there failed honest inferers). An inferer signs the
fingerprint's keccak with its commitment; a verifier re-executes the step and checks the
committed fingerprint against its own output (``check``), and two verifiers' fingerprints
are compared with ``agree``.

Why noise passes and lies do not (docs/verification.md has the calibration): the largest
coordinates of a residual stream are far above float noise (thread count, batch padding
and declared quantization move them by < 1e-4 relative on the models measured), so the
rule allows ``rtol`` relative to the token's k-th largest magnitude. A committed index
must also be a top-k coordinate of the re-execution (within the same tolerance): an
inferer cannot pick coordinates where its wrong output happens to be right, and to know
the true top-k values it has to run the computation it was paid for.

Blob (``to_bytes``), little endian: ``u8 version, u8 k, u16 positions``, then per
position ``u16 token index, u8 e``, then ``k × (u16 coordinate, f16 value / 2^e)`` sorted
by coordinate: 4 + P·(3 + 4k) bytes (23 bytes for a one-token decode step with k = 4).
``e`` is the smallest exponent that brings the position's largest committed magnitude
under ``SCALED_MAX``; dividing by a power of two is exact, so both sides that round the
same float32 values commit the same bits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import torch

VERSION = 2  # 1: float16 values without the per-position exponent (clamped at 65,504)
DEFAULT_K = 4
MAX_POSITIONS = 64  # fingerprinted positions per step (keeps a 2048-token prefill's blob ≈ 2 KB)
SCALED_MAX = 32768.0  # a scaled value stays below this (float16's largest is 65,504)
MAX_EXPONENT = 100  # 2^100: far past any hidden state; bounds what a peer's blob may say
_HEADER = struct.Struct("<BBH")
_POSITION = struct.Struct("<HB")


class FingerprintError(ValueError):
    """A fingerprint blob that cannot be parsed or does not fit the output it names."""


@dataclass(frozen=True)
class Tolerance:
    """How far honest executions may differ: ``rtol`` relative to the token's k-th
    largest magnitude (float noise), plus ``value_rtol`` relative to the value itself
    (float16 rounding of the committed value, ≤ 4.9e-4; a lossy wire encoding's error),
    plus ``atol``. Outlier channels (values 10-100× the k-th) make the second term
    necessary: their float16 rounding alone exceeds ``rtol × kth``."""

    rtol: float = 2e-3
    atol: float = 1e-5
    value_rtol: float = 1e-3


# Calibrated on honest runs (threads 1/2, batch 1/4/16, docs/verification.md): the largest
# honest deviation seen, in units of each mode's rtol, stays below 0.1.
TOLERANCES: dict[str, Tolerance] = {
    "none": Tolerance(),
    "int8": Tolerance(),
    "int4": Tolerance(),
    # activations are quantized with a per-tensor scale over the whole batch: padding and
    # batch-mates move it, so batched honest runs differ by more
    "int8-dynamic": Tolerance(rtol=3e-2, atol=1e-4, value_rtol=1e-2),
}


def tolerance_for(quantization: str | None) -> Tolerance:
    return TOLERANCES.get(quantization or "none", TOLERANCES["none"])


# The client checks a fingerprint (of the span's float32 output) against the output it
# received on the wire: the wire encoding's rounding comes on top (relative to the value).
_WIRE_VALUE_RTOL = {"float32": 0.0, "float16": 1e-3, "bfloat16": 8e-3}
_CODEC_VALUE_RTOL = {"none": 0.0, "fp16": 1e-3, "bf16": 8e-3, "int8-blockwise": 8e-2}


def wire_tolerance(wire_dtype: str, codec: str) -> Tolerance:
    base = TOLERANCES["none"]
    extra = _WIRE_VALUE_RTOL.get(wire_dtype, 3e-2) + _CODEC_VALUE_RTOL.get(codec, 8e-2)
    return Tolerance(base.rtol, base.atol, base.value_rtol + extra)


@dataclass(frozen=True)
class Fingerprint:
    positions: tuple[int, ...]  # token indices within the step
    indices: torch.Tensor  # (P, k) int64, ascending per row
    values: torch.Tensor  # (P, k) float32 (float16-rounded)

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def to_bytes(self) -> bytes:
        out = bytearray(_HEADER.pack(VERSION, self.k, len(self.positions)))
        exponents = _exponents(self.values)
        scaled = torch.ldexp(self.values, -exponents[:, None].float())
        values16 = scaled.to(torch.float16).view(torch.int16).tolist()
        for row, position in enumerate(self.positions):
            out += _POSITION.pack(position, int(exponents[row]))
            for index, bits in zip(self.indices[row].tolist(), values16[row], strict=True):
                out += struct.pack("<Hh", index, bits)
        return bytes(out)

    @classmethod
    def from_bytes(cls, blob: bytes, *, hidden_size: int | None = None,
                   tokens: int | None = None) -> Fingerprint:
        """Parse and range-check a blob from a peer (``hidden_size``/``tokens``: the shape
        of the output it must describe)."""
        if len(blob) < _HEADER.size:
            raise FingerprintError("a fingerprint is at least 4 bytes")
        version, k, count = _HEADER.unpack_from(blob)
        if version != VERSION or not 1 <= k <= 64 or not 1 <= count <= MAX_POSITIONS:
            raise FingerprintError(f"fingerprint header (version {version}, k {k}, {count} positions) is invalid")
        if len(blob) != _HEADER.size + count * (_POSITION.size + 4 * k):
            raise FingerprintError(f"fingerprint of {count} positions × k {k} has {len(blob)} bytes")
        positions: list[int] = []
        exponents: list[int] = []
        indices: list[list[int]] = []
        bits: list[list[int]] = []
        offset = _HEADER.size
        for _ in range(count):
            position, exponent = _POSITION.unpack_from(blob, offset)
            offset += _POSITION.size
            row = [struct.unpack_from("<Hh", blob, offset + 4 * j) for j in range(k)]
            offset += 4 * k
            positions.append(int(position))
            exponents.append(int(exponent))
            indices.append([int(i) for i, _ in row])
            bits.append([int(b) for _, b in row])
        if positions != sorted(set(positions)) or (tokens is not None and positions[-1] >= tokens):
            raise FingerprintError("fingerprint positions must ascend and lie inside the step")
        if tokens is not None and tuple(positions) != chosen_positions(tokens):
            raise FingerprintError("fingerprint positions are not the ones the protocol picks")
        for coordinates in indices:
            if coordinates != sorted(set(coordinates)) or (
                    hidden_size is not None and coordinates[-1] >= hidden_size):
                raise FingerprintError("fingerprint coordinates must be distinct, ascending, < hidden size")
        if max(exponents) > MAX_EXPONENT:
            raise FingerprintError(f"fingerprint exponent {max(exponents)} is over {MAX_EXPONENT}")
        scaled = torch.tensor(bits, dtype=torch.int16).view(torch.float16).float()
        if not torch.isfinite(scaled).all():
            raise FingerprintError("fingerprint values must be finite")
        values = torch.ldexp(scaled, torch.tensor(exponents, dtype=torch.float32)[:, None])
        fingerprint = cls(tuple(positions), torch.tensor(indices, dtype=torch.long), values)
        if fingerprint.to_bytes() != blob:  # one encoding per fingerprint: its hash is signed
            raise FingerprintError("fingerprint exponents are not the smallest that fit its values")
        return fingerprint


def chosen_positions(tokens: int) -> tuple[int, ...]:
    """Every position of a short step; ``MAX_POSITIONS`` evenly spaced ones ending at
    the last token otherwise (fixed by T alone: both sides pick the same)."""
    if tokens <= MAX_POSITIONS:
        return tuple(range(tokens))
    step = tokens / MAX_POSITIONS
    return tuple(sorted({tokens - 1 - int(i * step) for i in range(MAX_POSITIONS)}))


def _rows(hidden: torch.Tensor) -> torch.Tensor:
    """(1, T, H) or (T, H) → (T, H) float32."""
    if hidden.dim() == 3:
        if hidden.shape[0] != 1:
            raise FingerprintError(f"fingerprint one sequence at a time, got batch {hidden.shape[0]}")
        hidden = hidden[0]
    if hidden.dim() != 2:
        raise FingerprintError(f"expected hidden states (1, T, H), got {tuple(hidden.shape)}")
    return hidden.detach().float()


def fingerprint(hidden: torch.Tensor, k: int = DEFAULT_K) -> Fingerprint:
    """The fingerprint of a step's output (1, T, H)."""
    rows = _rows(hidden)
    positions = chosen_positions(rows.shape[0])
    picked = rows[list(positions)]
    top = picked.abs().topk(k, dim=1).indices.sort(dim=1).values
    values = picked.gather(1, top)
    shift = _exponents(values)[:, None].float()
    rounded = torch.ldexp(torch.ldexp(values, -shift).to(torch.float16).float(), shift)
    return Fingerprint(positions, top, rounded)


def _exponents(values: torch.Tensor) -> torch.Tensor:
    """Per row (P, k), the smallest e ≥ 0 with max |value| / 2^e < ``SCALED_MAX``. ``to_bytes``
    takes e from the committed (rounded) values, so the bytes are a function of the values
    alone, and ``from_bytes`` refuses any other e."""
    amax = values.abs().amax(dim=1).clamp(min=1.0)
    _, exponent = torch.frexp(amax / SCALED_MAX)  # amax / SCALED_MAX = m · 2^exponent, m in [0.5, 1)
    return exponent.clamp(min=0).to(torch.int64)


@dataclass(frozen=True)
class Mismatch:
    """Why a fingerprint does not fit an output: the first failing position."""

    position: int
    reason: str
    excess: float  # how far past the tolerance, in units of the allowed deviation


def _excess(claimed: Fingerprint, hidden: torch.Tensor,
            tol: Tolerance) -> tuple[torch.Tensor, torch.Tensor] | str:
    """Per committed entry, how far past the tolerance its value and its rank are (in
    units of the allowed deviation), or why the fingerprint cannot describe ``hidden``."""
    rows = _rows(hidden)
    if claimed.positions != chosen_positions(rows.shape[0]):
        return "fingerprinted positions differ from the step's"
    if int(claimed.indices.max()) >= rows.shape[1]:
        return "a coordinate is past the hidden size"
    picked = rows[list(claimed.positions)]
    kth = picked.abs().topk(claimed.k, dim=1).values[:, -1:]  # (P, 1)
    allowed = tol.rtol * kth + tol.atol
    mine = picked.gather(1, claimed.indices)
    allowed = allowed + tol.value_rtol * mine.abs()
    value = (claimed.values - mine).abs() / allowed
    # a committed coordinate must be a top-k one here too (up to a near-tie)
    rank = (kth - mine.abs()).clamp(min=0) / allowed
    return value, rank


def check(claimed: Fingerprint, hidden: torch.Tensor, tol: Tolerance) -> Mismatch | None:
    """Does ``claimed`` describe ``hidden`` (an honest re-execution) within ``tol``?"""
    excess = _excess(claimed, hidden, tol)
    if isinstance(excess, str):
        return Mismatch(0, excess, float("inf"))
    value, rank = excess
    worst = torch.maximum(value, rank).max(dim=1).values
    bad = (worst > 1).nonzero()
    if bad.numel() == 0:
        return None
    row = int(bad[0, 0])
    what = "value" if float(value[row].max()) > 1 else "top-k coordinate"
    return Mismatch(claimed.positions[row], f"{what} outside tolerance", float(worst[row]))


def max_excess(claimed: Fingerprint, hidden: torch.Tensor, tol: Tolerance) -> float:
    """The largest deviation of ``claimed`` from ``hidden`` in units of the tolerance
    (< 1 passes): what calibration records."""
    excess = _excess(claimed, hidden, tol)
    if isinstance(excess, str):
        return float("inf")
    return float(torch.maximum(*excess).max())


def agree(a: Fingerprint, b: Fingerprint, tol: Tolerance) -> bool:
    """Two re-executions' fingerprints agree: shared coordinates within twice the
    tolerance (both sides carry noise); a coordinate only one side holds must be a
    near-tie with the other side's k-th largest magnitude."""
    if a.positions != b.positions or a.k != b.k:
        return False
    for row in range(len(a.positions)):
        va = dict(zip(a.indices[row].tolist(), a.values[row].tolist(), strict=True))
        vb = dict(zip(b.indices[row].tolist(), b.values[row].tolist(), strict=True))
        kth_a, kth_b = min(abs(v) for v in va.values()), min(abs(v) for v in vb.values())
        allowed = 2 * (tol.rtol * max(kth_a, kth_b) + tol.atol)
        for index, value in va.items():
            if index in vb:
                scale = max(abs(value), abs(vb[index]))
                if abs(value - vb[index]) > allowed + 2 * tol.value_rtol * scale:
                    return False
            elif abs(value) > kth_b * (1 + 2 * tol.value_rtol) + allowed:
                return False
        if any(index not in va and abs(value) > kth_a * (1 + 2 * tol.value_rtol) + allowed
               for index, value in vb.items()):
            return False
    return True
