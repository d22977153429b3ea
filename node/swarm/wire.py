"""The wire protocol: handler names, every message a peer sends (validated before anything
acts on it), and the hidden-state encoding (through ``node.engine.codecs``).

Messages travel as hivemind ``ExpertRequest``/``ExpertResponse`` protobufs: ``metadata``
holds one JSON message below (a ``type`` field picks the schema) and ``tensors`` holds at
most one hidden-state tensor, in the session's wire dtype encoded by the session's codec
(``OpenRequest.codec``; the default ``none`` is the raw little-endian bytes).

Inference stream (``INFERENCE_HANDLER``: client → server, one stream per hop, opened once
per session)::

    open → opened        then   step → result (+ push_failed if forwarding failed)

Push stream (``PUSH_HANDLER``: server → next server, one stream per neighbour, shared by
sessions)::

    push → ack

``INFO_HANDLER`` (unary): the server's record and session count; also the ping.

An ``error`` message ends an inference stream; the server keeps serving everyone else.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

import torch
from hivemind.proto import runtime_pb2
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from node.engine.codecs import WIRE_DTYPES, CodecName, WireDtype, decode, get_codec
from node.engine.errors import CodecError
from node.swarm.errors import ProtocolError
from node.swarm.records import MAX_BLOCKS, PEER_ID_PATTERN, check_maddr

INFERENCE_HANDLER = "heliomesh.inference"
PUSH_HANDLER = "heliomesh.push"
INFO_HANDLER = "heliomesh.info"

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # hivemind's per-message cap
MAX_TENSOR_BYTES = MAX_MESSAGE_BYTES - 64 * 1024  # room for metadata and framing
MAX_METADATA_BYTES = 32 * 1024
MAX_SESSION_LENGTH = 1 << 16  # tokens; a session asks for its own max_length below this
MAX_NEXT_HOPS = 64
SESSION_ID_PATTERN = r"^[0-9a-f]{64}$"  # 32 random bytes, hex

PeerIdStr = Annotated[str, Field(pattern=PEER_ID_PATTERN.pattern)]
SessionId = Annotated[str, Field(pattern=SESSION_ID_PATTERN)]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NextHop(_Message):
    """Where a server pushes its output: the next server and the session it holds there."""

    peer_id: PeerIdStr
    session_id: SessionId
    maddrs: list[str] = Field(default_factory=list, max_length=4)  # how to dial it (from its record)

    @field_validator("maddrs")
    @classmethod
    def _maddrs(cls, maddrs: list[str]) -> list[str]:
        return [check_maddr(m) for m in maddrs]


class OpenRequest(_Message):
    type: Literal["open"] = "open"
    session_id: SessionId
    model_id: str = Field(max_length=64)
    start: int = Field(ge=0, lt=MAX_BLOCKS)
    end: int = Field(gt=0, le=MAX_BLOCKS)
    max_length: int = Field(gt=0, le=MAX_SESSION_LENGTH)
    wire_dtype: WireDtype = "float32"
    codec: CodecName = "none"  # how the session's hidden states are encoded (node.engine.codecs)


class StepRequest(_Message):
    """Hidden states for the next tokens of a session (from the client, or pushed)."""

    type: Literal["step", "push"] = "step"
    session_id: SessionId
    step: int = Field(ge=0, lt=2**32)
    position: int = Field(ge=0, lt=MAX_SESSION_LENGTH)
    next: list[NextHop] = Field(default_factory=list, max_length=MAX_NEXT_HOPS)


class Opened(_Message):
    type: Literal["opened"] = "opened"
    session_id: SessionId
    start: int
    end: int
    address: str
    cache_tokens_left: int


class StepResult(_Message):
    """The span's output for one step, with the server's signed commitment to it."""

    type: Literal["result"] = "result"
    step: int
    position: int
    input_hash: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    output_hash: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    signature: str = Field(pattern=r"^0x[0-9a-f]{130}$")
    compute_ms: float = Field(ge=0)
    pushed: bool = False
    # hex fingerprint blob (node.engine.fingerprint); its keccak is in the signed commitment
    fingerprint: str = Field("", max_length=4096, pattern=r"^(0x([0-9a-f]{2})+)?$")


class PushFailed(_Message):
    """The server could not forward a step to the next server; the client sends it itself."""

    type: Literal["push_failed"] = "push_failed"
    step: int
    peer_id: str
    error: str = Field(max_length=2000)


class PushAck(_Message):
    type: Literal["ack"] = "ack"
    session_id: str
    step: int
    ok: bool
    error: str = Field("", max_length=2000)


class ErrorReply(_Message):
    type: Literal["error"] = "error"
    code: Literal["bad_request", "unknown_session", "out_of_order", "busy", "wrong_span", "internal"]
    message: str = Field(max_length=2000)


ClientMessage = Annotated[OpenRequest | StepRequest, Field(discriminator="type")]
ServerMessage = Annotated[Opened | StepResult | PushFailed | ErrorReply, Field(discriminator="type")]
_M = TypeVar("_M")  # the message type an adapter validates
_client_adapter: TypeAdapter[OpenRequest | StepRequest] = TypeAdapter(ClientMessage)
_server_adapter: TypeAdapter[Opened | StepResult | PushFailed | ErrorReply] = TypeAdapter(ServerMessage)


def pack(message: _Message, tensor: torch.Tensor | runtime_pb2.Tensor | None = None) -> runtime_pb2.ExpertRequest:
    """One protobuf carrying ``message`` and optionally one tensor (a torch tensor is
    encoded raw, codec ``none``; an encoded one travels as it is)."""
    return runtime_pb2.ExpertRequest(metadata=message.model_dump_json().encode(), tensors=_tensors(tensor))


def pack_response(
    message: _Message, tensor: torch.Tensor | runtime_pb2.Tensor | None = None
) -> runtime_pb2.ExpertResponse:
    return runtime_pb2.ExpertResponse(metadata=message.model_dump_json().encode(), tensors=_tensors(tensor))


def _tensors(tensor: torch.Tensor | runtime_pb2.Tensor | None) -> list[runtime_pb2.Tensor]:
    if tensor is None:
        return []
    return [encode_hidden(tensor) if isinstance(tensor, torch.Tensor) else tensor]


def unpack_client(proto: Any) -> tuple[OpenRequest | StepRequest, runtime_pb2.Tensor | None]:
    return _unpack(proto, _client_adapter)


def unpack_server(proto: Any) -> tuple[Opened | StepResult | PushFailed | ErrorReply, runtime_pb2.Tensor | None]:
    return _unpack(proto, _server_adapter)


def unpack_ack(proto: Any) -> PushAck:
    message, _ = _unpack(proto, TypeAdapter(PushAck))
    return message


def _unpack(proto: Any, adapter: TypeAdapter[_M]) -> tuple[_M, runtime_pb2.Tensor | None]:
    if len(proto.metadata) > MAX_METADATA_BYTES:
        raise ProtocolError(f"metadata is {len(proto.metadata)} bytes, over {MAX_METADATA_BYTES}")
    if len(proto.tensors) > 1:
        raise ProtocolError(f"at most one tensor per message, got {len(proto.tensors)}")
    try:
        message = adapter.validate_python(json.loads(proto.metadata))
    except (ValueError, ValidationError) as exc:
        raise ProtocolError(f"malformed message: {str(exc).splitlines()[0]}") from None
    return message, (proto.tensors[0] if proto.tensors else None)


def encode_hidden(tensor: torch.Tensor, codec: str = "none") -> runtime_pb2.Tensor:
    """A tensor in one of ``WIRE_DTYPES``, encoded by ``codec`` (``none``: its raw bytes)."""
    name = next((k for k, v in WIRE_DTYPES.items() if v == tensor.dtype), None)
    if name is None:
        raise ProtocolError(f"cannot send dtype {tensor.dtype}; use one of {list(WIRE_DTYPES)}")
    proto = get_codec(codec).encode(tensor)
    if len(proto.buffer) > MAX_TENSOR_BYTES:
        raise ProtocolError(
            f"tensor of {len(proto.buffer)} bytes is over the {MAX_TENSOR_BYTES}-byte message cap; "
            "send the tokens in smaller chunks"
        )
    return proto


def decode_hidden(
    proto: runtime_pb2.Tensor | None, *, hidden_size: int, dtype: str, max_tokens: int,
    codec: str = "none",
) -> torch.Tensor:
    """Check and decode hidden states of shape (1, T, hidden_size) that a session with
    wire dtype ``dtype`` and ``codec`` sends (``none``: the tensor comes back in ``dtype``)."""
    if proto is None:
        raise ProtocolError("the message carries no hidden states")
    session_codec = get_codec(codec)
    carried = str(session_codec.carried_dtype(WIRE_DTYPES[dtype])).removeprefix("torch.")
    if proto.compression != session_codec.compression or proto.dtype != carried:
        got = proto.dtype or "?"
        if proto.compression != runtime_pb2.CompressionType.NONE or codec != "none":
            got += f" ({_compression(proto.compression)})"
            dtype += f" (codec {codec})"
        raise ProtocolError(f"hidden states are {got}, the session uses {dtype}")
    shape = tuple(proto.size)
    if len(shape) != 3 or shape[0] != 1 or shape[2] != hidden_size or not 1 <= shape[1] <= max_tokens:
        raise ProtocolError(
            f"hidden states must have shape (1, T, {hidden_size}) with 1 ≤ T ≤ {max_tokens}, "
            f"got {shape}"
        )
    try:
        tensor = decode(proto)
    except CodecError as exc:
        raise ProtocolError(str(exc)) from None
    if not torch.isfinite(tensor).all():
        raise ProtocolError("hidden states contain NaN or infinity")
    return tensor


def _compression(value: int) -> str:
    try:
        return str(runtime_pb2.CompressionType.Name(value))
    except ValueError:
        return str(value)
