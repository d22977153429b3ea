"""Span execution: what an inferer runs for every token (API: docs/engine.md).

- ``span``      ``Span``: blocks ``[start, end)`` loaded from their own files via the family adapter
- ``host``      ``SpanHost``, ``EngineLimits``: sessions, validation, memory budget, batching
- ``session``   ``SpanSession``: one session's KV cache and length on one span; ``StepRequest``
- ``kvcache``   the one KV-cache layout; stacking/splitting for batches; rollback; in-place growth
- ``fastpath``  ``FastDecode``: the lean decode step (one token, one session), bit for bit transformers'
- ``batching``  one padded forward for several sessions
- ``worker``    ``BatchWorker``: the thread that batches concurrently submitted steps
- ``route``     ``Route`` / ``RewindableRoute`` protocols and ``InProcessRoute`` (the client drives either)
- ``codecs``    hidden states on the wire: ``WIRE_DTYPES`` and the codecs none / fp16 / bf16 /
                int8-blockwise (the swarm's wire format and the in-process route use them)
- ``quant``     int8 / int4 weights for a span's linear layers
- ``fingerprint`` top-k output fingerprints honest executions agree on (docs/verification.md)
- ``kernels``   native CPU kernels built on first use (the fast int8 linear)
- ``device``    ``--device auto|cpu|cuda|mps``: resolving it, dtype defaults per device
- ``errors``    named errors with stable wire codes
"""

from node.engine.errors import (
    CodecError,
    EngineError,
    InternalEngineError,
    InvalidHiddenStatesError,
    InvalidRequestError,
    MemoryBudgetError,
    PositionMismatchError,
    SessionExistsError,
    SessionLengthError,
    UnknownSessionError,
    error_from_code,
)
from node.engine.host import EngineLimits, SpanHost
from node.engine.route import InProcessRoute, Route
from node.engine.session import SpanSession, StepRequest
from node.engine.span import Span

__all__ = [
    "CodecError",
    "EngineError",
    "EngineLimits",
    "InProcessRoute",
    "InternalEngineError",
    "InvalidHiddenStatesError",
    "InvalidRequestError",
    "MemoryBudgetError",
    "PositionMismatchError",
    "Route",
    "SessionExistsError",
    "SessionLengthError",
    "Span",
    "SpanHost",
    "SpanSession",
    "StepRequest",
    "UnknownSessionError",
    "error_from_code",
]
