"""Wire formats: what a peer sends is checked before anything acts on it."""

from __future__ import annotations

import json
from typing import get_args

import pytest
import torch
from hivemind.proto import runtime_pb2

from node.engine.codecs import CODECS, WIRE_DTYPES, CodecName, WireDtype
from node.swarm.errors import ProtocolError
from node.swarm.wire import (
    MAX_METADATA_BYTES,
    MAX_TENSOR_BYTES,
    NextHop,
    OpenRequest,
    StepRequest,
    decode_hidden,
    encode_hidden,
    pack,
    unpack_client,
)

SID = "ab" * 32
PEER = "12D3KooWL47596iL71cKjFa7AYW2q3ejBrB33JTKZaLaxdb78Wwi"


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_tensor_roundtrip_is_exact(dtype: str) -> None:
    hidden = torch.randn(1, 5, 64).to(getattr(torch, dtype))
    decoded = decode_hidden(encode_hidden(hidden), hidden_size=64, dtype=dtype, max_tokens=8)
    assert decoded.dtype == hidden.dtype and torch.equal(decoded, hidden)


def test_pack_unpack_step_with_next_hops() -> None:
    message = StepRequest(session_id=SID, step=3, position=17, next=[NextHop(peer_id=PEER, session_id=SID)])
    got, tensor = unpack_client(pack(message, torch.zeros(1, 1, 8)))
    assert got == message and tensor is not None and list(tensor.size) == [1, 1, 8]


@pytest.mark.parametrize(
    "metadata",
    [b"garbage", b"{}", json.dumps({"type": "open", "session_id": "short"}).encode(),
     json.dumps({"type": "step", "session_id": SID, "step": -1, "position": 0}).encode(),
     json.dumps({"type": "open", "session_id": SID, "model_id": "m", "start": 0, "end": 1,
                 "max_length": 10, "extra": 1}).encode(),
     json.dumps({"type": "step", "session_id": SID, "step": 0, "position": 0,
                 "next": [{"peer_id": PEER, "session_id": SID}] * 65}).encode()],
)
def test_unpack_rejects_malformed_messages(metadata: bytes) -> None:
    with pytest.raises(ProtocolError, match="malformed"):
        unpack_client(runtime_pb2.ExpertRequest(metadata=metadata))


def test_unpack_rejects_oversized_metadata_and_extra_tensors() -> None:
    with pytest.raises(ProtocolError, match="metadata"):
        unpack_client(runtime_pb2.ExpertRequest(metadata=b" " * (MAX_METADATA_BYTES + 1)))
    request = pack(OpenRequest(session_id=SID, model_id="m", start=0, end=1, max_length=4))
    request.tensors.extend([encode_hidden(torch.zeros(1)), encode_hidden(torch.zeros(1))])
    with pytest.raises(ProtocolError, match="one tensor"):
        unpack_client(request)


def test_encode_refuses_tensors_over_the_message_cap() -> None:
    with pytest.raises(ProtocolError, match="smaller chunks"):
        encode_hidden(torch.zeros(MAX_TENSOR_BYTES // 4 + 1))


@pytest.mark.parametrize(
    ("tensor", "match"),
    [
        (torch.zeros(1, 2, 63), "shape"),  # wrong hidden size
        (torch.zeros(2, 2, 64), "shape"),  # a batch
        (torch.zeros(1, 9, 64), "shape"),  # more tokens than allowed
        (torch.zeros(1, 2, 64, dtype=torch.float16), "the session uses"),
        (torch.full((1, 1, 64), float("nan")), "NaN"),
    ],
)
def test_decode_hidden_rejects_bad_tensors(tensor: torch.Tensor, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode_hidden(encode_hidden(tensor), hidden_size=64, dtype="float32", max_tokens=8)


def test_decode_hidden_rejects_buffer_that_does_not_match_shape() -> None:
    proto = encode_hidden(torch.zeros(1, 2, 64))
    proto.buffer = proto.buffer[:-4]
    with pytest.raises(ProtocolError, match="bytes"):
        decode_hidden(proto, hidden_size=64, dtype="float32", max_tokens=8)
    with pytest.raises(ProtocolError, match="no hidden"):
        decode_hidden(None, hidden_size=64, dtype="float32", max_tokens=8)


def test_wire_dtypes_and_codec_names_have_one_definition() -> None:
    assert get_args(WireDtype) == tuple(WIRE_DTYPES)
    assert get_args(CodecName) == tuple(CODECS)
    assert OpenRequest(session_id=SID, model_id="m", start=0, end=1, max_length=4).codec == "none"


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_hidden_states_round_trip_through_the_wire_with_every_codec(codec: str, dtype: str) -> None:
    hidden = (torch.randn(1, 32, 576, generator=torch.Generator().manual_seed(1)) * 3).to(WIRE_DTYPES[dtype])
    proto = encode_hidden(hidden, codec)
    message = pack(StepRequest(session_id=SID, step=0, position=0), proto)
    _, received = unpack_client(runtime_pb2.ExpertRequest.FromString(message.SerializeToString()))
    decoded = decode_hidden(received, hidden_size=576, dtype=dtype, max_tokens=32, codec=codec)
    assert decoded.shape == hidden.shape and torch.isfinite(decoded).all()
    error = float((decoded.float() - hidden.float()).abs().max() / hidden.float().abs().max())
    if codec == "none":
        assert decoded.dtype == hidden.dtype and torch.equal(decoded, hidden)
    else:
        assert error < 0.05, error
    raw = len(encode_hidden(hidden.float()).SerializeToString())
    if codec == "int8-blockwise":  # about a byte a value instead of four
        assert len(proto.SerializeToString()) < 0.3 * raw
    # A session decodes only its own codec.
    other = "int8-blockwise" if codec != "int8-blockwise" else "none"
    with pytest.raises(ProtocolError, match="the session uses"):
        decode_hidden(received, hidden_size=576, dtype=dtype, max_tokens=32, codec=other)


def test_int8_payload_that_does_not_match_its_shape_is_a_protocol_error() -> None:
    proto = encode_hidden(torch.randn(1, 2, 64), "int8-blockwise")
    proto.buffer = proto.buffer[:-1]
    with pytest.raises(ProtocolError, match="int8-blockwise"):
        decode_hidden(proto, hidden_size=64, dtype="float32", max_tokens=8, codec="int8-blockwise")
