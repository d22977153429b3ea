"""Wire formats: what a peer sends is checked before anything acts on it."""

from __future__ import annotations

import json

import pytest
import torch
from hivemind.proto import runtime_pb2

from node.swarm.errors import ProtocolError
from node.swarm.wire import (
    MAX_METADATA_BYTES,
    MAX_TENSOR_BYTES,
    NextHop,
    OpenRequest,
    StepRequest,
    decode_hidden,
    encode_tensor,
    pack,
    unpack_client,
)

SID = "ab" * 32
PEER = "12D3KooWL47596iL71cKjFa7AYW2q3ejBrB33JTKZaLaxdb78Wwi"


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_tensor_roundtrip_is_exact(dtype: str) -> None:
    hidden = torch.randn(1, 5, 64).to(getattr(torch, dtype))
    decoded = decode_hidden(encode_tensor(hidden), hidden_size=64, dtype=dtype, max_tokens=8)
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
    request.tensors.extend([encode_tensor(torch.zeros(1)), encode_tensor(torch.zeros(1))])
    with pytest.raises(ProtocolError, match="one tensor"):
        unpack_client(request)


def test_encode_refuses_tensors_over_the_message_cap() -> None:
    with pytest.raises(ProtocolError, match="smaller chunks"):
        encode_tensor(torch.zeros(MAX_TENSOR_BYTES // 4 + 1))


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
        decode_hidden(encode_tensor(tensor), hidden_size=64, dtype="float32", max_tokens=8)


def test_decode_hidden_rejects_buffer_that_does_not_match_shape() -> None:
    proto = encode_tensor(torch.zeros(1, 2, 64))
    proto.buffer = proto.buffer[:-4]
    with pytest.raises(ProtocolError, match="bytes"):
        decode_hidden(proto, hidden_size=64, dtype="float32", max_tokens=8)
    with pytest.raises(ProtocolError, match="no hidden"):
        decode_hidden(None, hidden_size=64, dtype="float32", max_tokens=8)
