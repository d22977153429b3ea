"""Wire codecs: exact where promised, bounded error otherwise, loud on overflow and on
malformed payloads, and readable from the message alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hivemind.compression import serialize_torch_tensor
from hivemind.proto import runtime_pb2

from node.engine.codecs import BLOCK, CODECS, decode, get_codec
from node.engine.errors import CodecError


def activations(seed: int = 0, shape: tuple[int, ...] = (1, 37, 576)) -> torch.Tensor:
    """Residual-stream-like: mostly small values plus a few large outlier channels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g)
    x[..., 3] *= 300
    x[..., 100] *= -80
    return x


def test_none_is_exact_and_every_codec_decodes_from_the_message_alone() -> None:
    x = activations()
    assert torch.equal(decode(get_codec("none").encode(x)), x)
    for name, codec in CODECS.items():
        message = runtime_pb2.Tensor.FromString(
            codec.encode(x).SerializeToString()
        )  # over the wire
        y = decode(message)
        assert y.shape == x.shape, name


def test_lossy_codecs_stay_within_their_precision() -> None:
    x = activations()
    size = {name: len(c.encode(x).SerializeToString()) for name, c in CODECS.items()}
    fp16 = decode(get_codec("fp16").encode(x))
    bf16 = decode(get_codec("bf16").encode(x))
    int8 = decode(get_codec("int8-blockwise").encode(x))
    assert (
        fp16.dtype == torch.float32 and bf16.dtype == torch.bfloat16 and int8.dtype == torch.float32
    )
    rel = lambda y: float(((y.float() - x).abs() / x.abs().clamp_min(1e-3)).median())  # noqa: E731
    assert rel(fp16) < 1e-3 and rel(bf16) < 8e-3
    # µ-law: ≈ 2 % relative steps near each block's absmax, finer near 0; a block mixes
    # outliers (300σ) with ordinary values and those must survive
    assert rel(int8) < 0.12
    small = x.abs() < 1
    assert float((int8 - x)[small].abs().max()) < 0.2
    assert size["int8-blockwise"] < 0.3 * size["none"] and size["fp16"] < 0.55 * size["none"]


def test_fp16_refuses_values_past_its_range_instead_of_clamping() -> None:
    x = activations()
    x[0, 5, 7] = 1.2e5  # Gemma-3's residual stream reaches this
    with pytest.raises(CodecError, match="bf16"):
        get_codec("fp16").encode(x)
    assert float(decode(get_codec("bf16").encode(x)).float().max()) == pytest.approx(
        1.2e5, rel=1e-2
    )


def test_int8_blockwise_uses_hivemind_blockwise_layout() -> None:
    x = activations(shape=(2, 5000))  # 10000 values: 3 blocks of 4096
    message = get_codec("int8-blockwise").encode(x)
    assert message.compression == runtime_pb2.CompressionType.BLOCKWISE_8BIT
    blocks, code_size = np.frombuffer(message.buffer, dtype=np.int64, count=2)
    assert (blocks, code_size) == (3, 256)
    assert len(message.buffer) == 16 + 4 * 3 + 4 * 256 + x.numel()
    absmax = np.frombuffer(message.buffer, np.float32, 3, 16)
    assert absmax[0] == pytest.approx(float(x.reshape(-1)[:BLOCK].abs().max()))


def test_malformed_payloads_raise_codec_error() -> None:
    good = get_codec("int8-blockwise").encode(activations())
    for buffer in (b"", good.buffer[:-1], good.buffer[:20]):
        broken = runtime_pb2.Tensor()
        broken.CopyFrom(good)
        broken.buffer = buffer
        with pytest.raises(CodecError):
            decode(broken)
    wrong_dtype = runtime_pb2.Tensor()
    wrong_dtype.CopyFrom(good)
    wrong_dtype.dtype = "int64"
    with pytest.raises(CodecError, match="dtype"):
        decode(wrong_dtype)
    truncated = serialize_torch_tensor(torch.ones(4, 4))
    truncated.buffer = truncated.buffer[:10]
    with pytest.raises(CodecError):
        decode(truncated)
    with pytest.raises(CodecError, match="unknown codec"):
        get_codec("zstd")
