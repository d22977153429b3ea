"""Hidden states on the wire: the wire dtypes and the codecs ``none``, ``fp16``, ``bf16``,
``int8-blockwise``. The one definition of both: the swarm's wire format
(``node.swarm.wire``) and the in-process route encode through here.

Every codec encodes into hivemind's ``runtime_pb2.Tensor`` (what hivemind RPCs carry)
and ``decode`` reads the codec back from the message, so the receiver needs no
negotiation. ``none`` and ``bf16`` write the raw little-endian bytes of the tensor
(``none`` in its own dtype, one of ``WIRE_DTYPES``; ``bf16`` as bfloat16: 2 bytes a value,
the layout hivemind reads for bfloat16); ``fp16`` is hivemind's ``FLOAT16``, but first
refuses values past fp16's range instead of letting hivemind clamp them silently (a
clamped Gemma-3 residual stream is wrong, not merely imprecise).

Negotiation: a server announces the codecs it accepts (``offered_codecs``: its family's
safe default first) in its DHT record; a client's route uses the best codec that every
hop of the route offers (``negotiate``), since each server pushes its output, encoded
once, straight to the next.

``int8-blockwise`` writes hivemind's ``BLOCKWISE_8BIT`` layout (int64 number of
blocks, int64 code-book size, float32 absmax per 4096-value block, float32 code book,
uint8 indices; value = code[index] × absmax[block]) but in plain torch, since
hivemind's own needs bitsandbytes. The code book is µ-law (µ = 255): fine steps near
zero, ≈ 2 % relative steps near the block's absmax, so one large outlier in a block
does not flatten every small value to zero as linear int8 would.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from hivemind.compression import deserialize_torch_tensor, serialize_torch_tensor
from hivemind.proto import runtime_pb2

from node.core.errors import ConfigError
from node.engine.errors import CodecError

# The dtypes hidden states travel in (``none`` sends them as they are).
WIRE_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
WireDtype = Literal["float32", "bfloat16", "float16"]  # the keys of WIRE_DTYPES
CodecName = Literal["none", "fp16", "bf16", "int8-blockwise"]  # the keys of CODECS

FP16_MAX = torch.finfo(torch.float16).max
BLOCK = 4096  # hivemind's _BLOCKWISE_QUANTIZATION_BLOCKSIZE
MU = 255.0
LEVELS = 127  # indices 0..254 encode -1..1; 255 is unused padding


def mu_law_code() -> torch.Tensor:
    steps = torch.arange(256, dtype=torch.float64).clamp(max=254) - LEVELS
    y = steps / LEVELS
    return (torch.sign(y) * ((1 + MU) ** y.abs() - 1) / MU).to(torch.float32)


CODE = mu_law_code()


class Codec:
    """``none``: the tensor's raw bytes in its own dtype (exact)."""

    name = "none"
    compression = runtime_pb2.CompressionType.NONE

    def encode(self, tensor: torch.Tensor) -> runtime_pb2.Tensor:
        return _raw(tensor)

    def decode(self, message: runtime_pb2.Tensor) -> torch.Tensor:
        return decode(message)

    def carried_dtype(self, dtype: torch.dtype) -> torch.dtype:
        """The dtype a message says it holds when this codec encodes a ``dtype`` tensor."""
        return dtype


class Fp16Codec(Codec):
    name = "fp16"
    compression = runtime_pb2.CompressionType.FLOAT16

    def encode(self, tensor: torch.Tensor) -> runtime_pb2.Tensor:
        tensor = tensor.detach().cpu().float()
        peak = float(tensor.abs().max()) if tensor.numel() else 0.0
        if not peak <= FP16_MAX:  # also catches NaN
            raise CodecError(
                f"fp16 cannot carry hidden states up to {peak:.3g} (its limit is {FP16_MAX:g}); "
                "use the bf16 codec for this model"
            )
        return serialize_torch_tensor(tensor, self.compression)

    def carried_dtype(self, dtype: torch.dtype) -> torch.dtype:
        return torch.float32  # encode() widens first: the message names float32


class Bf16Codec(Codec):
    name = "bf16"

    def encode(self, tensor: torch.Tensor) -> runtime_pb2.Tensor:
        return _raw(tensor.detach().to(torch.bfloat16))

    def carried_dtype(self, dtype: torch.dtype) -> torch.dtype:
        return torch.bfloat16


class Int8BlockwiseCodec(Codec):
    name = "int8-blockwise"
    compression = runtime_pb2.CompressionType.BLOCKWISE_8BIT

    def encode(self, tensor: torch.Tensor) -> runtime_pb2.Tensor:
        flat = tensor.detach().cpu().float().reshape(-1)
        if not bool(torch.isfinite(flat).all()):
            raise CodecError("hidden states contain NaN or inf; nothing was sent")
        blocks = max(math.ceil(flat.numel() / BLOCK), 1)
        padded = torch.zeros(blocks * BLOCK)
        padded[: flat.numel()] = flat
        padded = padded.view(blocks, BLOCK)
        absmax = padded.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny)
        x = padded / absmax[:, None]  # in [-1, 1]
        y = torch.sign(x) * torch.log1p(MU * x.abs()) / math.log1p(MU)
        indices = (torch.round(y * LEVELS) + LEVELS).to(torch.uint8).reshape(-1)[: flat.numel()]
        buffer = b"".join((
            np.int64(blocks).tobytes(), np.int64(CODE.numel()).tobytes(),
            absmax.numpy().astype(np.float32).tobytes(), CODE.numpy().tobytes(),
            indices.numpy().tobytes(),
        ))  # fmt: skip
        return runtime_pb2.Tensor(
            buffer=buffer, size=tensor.shape, dtype=str(tensor.dtype).removeprefix("torch."),
            compression=self.compression,
        )  # fmt: skip


CODECS: dict[str, Codec] = {
    c.name: c for c in (Codec(), Fp16Codec(), Bf16Codec(), Int8BlockwiseCodec())
}


def get_codec(name: str) -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        raise CodecError(f"unknown codec {name!r}; use one of {', '.join(CODECS)}") from None


AUTO = "auto"  # a client's wish for "the route's best": the first hop's first offer all share


def offered_codecs(safe_default: str, wanted: str = AUTO) -> list[str]:
    """What a server of a family whose safe wire codec is ``safe_default`` accepts, best
    first: that codec, ``int8-blockwise`` (µ-law: no overflow), ``none``; plus bf16 under
    an fp16 default (bf16 has fp32's range, so it is safe wherever fp16 is). ``wanted``
    (``--wire-codec``): put that one first instead."""
    offers = [safe_default, *(["bf16"] if safe_default == "fp16" else []), "int8-blockwise", "none"]
    if wanted != AUTO:
        get_codec(wanted)
        offers = [wanted, *(c for c in offers if c != wanted)]
    return offers


def check_wire_codec(name: str) -> str:
    """A ``--wire-codec`` value: ``auto`` or a codec name (else a ``ConfigError``)."""
    if name != AUTO and name not in CODECS:
        raise ConfigError(f"--wire-codec {name!r}: use auto or one of {', '.join(CODECS)}")
    return name


def negotiate(wanted: str, offers: list[list[str]]) -> str:
    """The codec a route uses when its hops offer ``offers`` (each a server's list, best
    first): ``wanted``, which every hop must offer, or with ``auto`` the first of the first
    hop's offers that every hop has (``none`` at worst, which every server reads)."""
    if wanted != AUTO:
        get_codec(wanted)
        missing = [i for i, offer in enumerate(offers) if wanted not in offer]
        if missing:
            raise CodecError(f"codec {wanted!r} is not offered by hop {missing[0]} of the route "
                             f"(it offers {', '.join(offers[missing[0]])})")
        return wanted
    first = offers[0] if offers else ["none"]
    return next((c for c in first if all(c in offer for offer in offers)), "none")


def _raw(tensor: torch.Tensor) -> runtime_pb2.Tensor:
    """Raw little-endian bytes, no compression (hivemind's ``NONE`` layout)."""
    tensor = tensor.detach().cpu().contiguous()
    data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
    return runtime_pb2.Tensor(
        buffer=data, size=list(tensor.shape), dtype=str(tensor.dtype).removeprefix("torch.")
    )


def decode(message: runtime_pb2.Tensor) -> torch.Tensor:
    """The tensor inside ``message``, whichever codec wrote it."""
    try:
        if message.compression == runtime_pb2.CompressionType.BLOCKWISE_8BIT:
            return _decode_blockwise(message)
        if message.compression == runtime_pb2.CompressionType.NONE:
            return _decode_raw(message)
        tensor: torch.Tensor = deserialize_torch_tensor(message)
        return tensor
    except CodecError:
        raise
    except Exception as exc:  # a peer's malformed payload: numpy/torch raise many kinds
        raise CodecError(f"cannot decode hidden states: {type(exc).__name__}: {exc}") from exc


def _decode_raw(message: runtime_pb2.Tensor) -> torch.Tensor:
    dtype = _float_dtype(message.dtype, "raw")
    shape = tuple(message.size)
    expected = math.prod(shape) * dtype.itemsize
    if len(message.buffer) != expected:
        raise CodecError(f"tensor buffer is {len(message.buffer)} bytes, shape {shape} in "
                         f"{message.dtype} says {expected}")
    if expected == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(message.buffer), dtype=dtype).reshape(shape)


def _float_dtype(name: str, codec: str) -> torch.dtype:
    dtype = getattr(torch, name or "float32", None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise CodecError(f"{codec} payload names dtype {name!r}")
    return dtype


def _decode_blockwise(message: runtime_pb2.Tensor) -> torch.Tensor:
    buffer = message.buffer
    shape = tuple(message.size)
    count = math.prod(shape)
    if len(buffer) < 16:
        raise CodecError("int8-blockwise payload is truncated")
    blocks, code_size = (int(v) for v in np.frombuffer(buffer, dtype=np.int64, count=2))
    expected = 16 + 4 * blocks + 4 * code_size + count
    if code_size != 256 or blocks != max(math.ceil(count / BLOCK), 1) or len(buffer) != expected:
        raise CodecError(
            f"int8-blockwise payload does not match shape {shape}: {len(buffer)} bytes, "
            f"{blocks} blocks, code book of {code_size}"
        )
    absmax = torch.from_numpy(np.frombuffer(buffer, np.float32, blocks, 16).copy())
    code = torch.from_numpy(np.frombuffer(buffer, np.float32, code_size, 16 + 4 * blocks).copy())
    indices = torch.from_numpy(
        np.frombuffer(buffer, np.uint8, count, 16 + 4 * (blocks + code_size)).copy()
    )
    block_of = torch.arange(count) // BLOCK
    values = code[indices.long()] * absmax[block_of]
    return values.reshape(shape).to(_float_dtype(message.dtype, "int8-blockwise"))
