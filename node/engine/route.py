"""A route: the chain of spans one generation goes through, covering blocks ``[0, n)``.

The client drives any ``Route``; the in-process one is the first; the swarm's network
route (hidden states pushed server to server) implements the same protocol.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

import torch

from node.core.errors import ConfigError
from node.engine.codecs import get_codec
from node.engine.host import SpanHost
from node.engine.session import StepRequest
from node.engine.span import Span


class Route(Protocol):
    def open(self, max_length: int) -> None: ...
    def step(self, hidden: torch.Tensor) -> torch.Tensor: ...
    def close(self) -> None: ...


class RewindableRoute(Route, Protocol):
    """A route whose next step may start before its end (speculative decoding drops the
    rejected draft tokens): every span rolls its KV cache back to that position."""

    position: int  # tokens the route's caches hold

    def rewind(self, position: int) -> None: ...


class InProcessRoute:
    """Spans in this process, chained in order; one session per ``open()``.

    ``spans`` may be ``Span``s (each gets its own ``SpanHost``) or shared ``SpanHost``s
    (several routes on the same hosts are concurrent sessions). With ``batching`` the
    steps go through the hosts' batching workers, so routes stepped from different
    threads share forwards. ``codec`` ("fp16", "bf16", "int8-blockwise") encodes and
    decodes the hidden states between hops as the network would.
    """

    def __init__(
        self, spans: Sequence[Span | SpanHost], *, batching: bool = False, codec: str | None = None
    ) -> None:
        hosts = [s if isinstance(s, SpanHost) else SpanHost(s) for s in spans]
        if not hosts:
            raise ConfigError("a route needs at least one span")
        for before, after in zip(hosts, hosts[1:], strict=False):
            if before.span.end != after.span.start:
                raise ConfigError(
                    f"spans are not contiguous: {before.span.end} != {after.span.start}"
                )
        first = hosts[0].span
        if first.start != 0 or hosts[-1].span.end != first.manifest.num_blocks:
            raise ConfigError(f"the spans must cover every block [0, {first.manifest.num_blocks})")
        self.hosts = hosts
        self.batching = batching
        self.codec = get_codec(codec) if codec else None
        self.session_id: str | None = None
        self.position = 0

    @property
    def spans(self) -> list[Span]:
        return [host.span for host in self.hosts]

    def open(self, max_length: int) -> None:
        self.close()
        session_id = uuid.uuid4().hex
        opened: list[SpanHost] = []
        try:
            for host in self.hosts:
                host.open(session_id, max_length)
                opened.append(host)
        except BaseException:
            for host in opened:
                host.close(session_id)
            raise
        self.session_id, self.position = session_id, 0

    def step(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (1, T, H) for the next T tokens → hidden (1, T, H) after every span."""
        if self.session_id is None:
            raise ConfigError("open() the route before stepping it")
        for host in self.hosts:
            if self.codec is not None:
                hidden = self.codec.decode(self.codec.encode(hidden))
            request = StepRequest(self.session_id, hidden, self.position)
            hidden = host.submit(request).result() if self.batching else host.step(*_args(request))
        if self.codec is not None:
            hidden = self.codec.decode(self.codec.encode(hidden))
        self.position += hidden.shape[1]
        return hidden

    def rewind(self, position: int) -> None:
        """The next step starts at ``position`` (≤ the current one); each host drops the
        later tokens when that step arrives (``SpanHost`` rolls back on a lower position)."""
        if not 0 <= position <= self.position:
            raise ConfigError(f"cannot rewind to {position}: the route holds {self.position} tokens")
        self.position = position

    def close(self) -> None:
        if self.session_id is not None:
            for host in self.hosts:
                host.close(self.session_id)
        self.session_id, self.position = None, 0


def _args(request: StepRequest) -> tuple[str, torch.Tensor, int]:
    return request.session_id, request.hidden, request.position
