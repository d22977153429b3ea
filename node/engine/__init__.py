"""Span execution: what an inferer runs for every token.

- ``span``     ``Span``: blocks ``[start, end)`` loaded from their own files
- ``session``  ``SpanSession``: prefill/decode steps with a per-session KV cache
- ``route``    ``Route``: a chain of spans covering ``[0, n)`` (in-process for now)
"""

from node.engine.route import InProcessRoute, Route
from node.engine.session import SessionLengthError, SpanSession
from node.engine.span import Span

__all__ = ["InProcessRoute", "Route", "SessionLengthError", "Span", "SpanSession"]
