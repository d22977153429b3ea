"""Token ids → text pieces for streaming, with OpenAI-style ``stop`` strings (used by
``generate.stream_text`` and the gateway's generations).

Decoding token by token breaks multi-byte characters and merged word pieces, so the
whole text is decoded again for every token and only the new suffix is emitted; a
trailing U+FFFD (half a UTF-8 character) is held back until the next token completes it.
``StopMatcher`` holds back text that could be the start of a stop string; the text from
the first stop string on is never emitted. ``Detokenizer`` chains the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Decode = Callable[[list[int]], str]  # token ids → text (``ClientModel.decode``)


class IncrementalDecoder:
    def __init__(self, decode: Decode) -> None:
        self.decode = decode
        self.tokens: list[int] = []
        self.emitted = ""

    def push(self, token: int) -> str:
        """Add one token; return the text it completes (possibly empty)."""
        self.tokens.append(token)
        text = self.decode(self.tokens)
        if text.endswith("\ufffd"):
            return ""
        delta = text[len(self.emitted) :] if text.startswith(self.emitted) else ""
        self.emitted = text if text.startswith(self.emitted) else self.emitted
        return delta


class StopMatcher:
    """Feed text deltas; get back what is safe to emit and whether a stop string matched."""

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        if self.stopped:
            return ""
        self.pending += delta
        if not self.stops:
            out, self.pending = self.pending, ""
            return out
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            out, self.pending = self.pending[: min(hits)], ""
            return out
        # Keep the longest tail that is a prefix of some stop string.
        keep = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self.pending)), 0, -1):
                if stop.startswith(self.pending[-n:]):
                    keep = max(keep, n)
                    break
        out = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep :]
        return out

    def flush(self) -> str:
        """At the end of generation: the held-back text (it matched no stop string)."""
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out


class Detokenizer:
    """Tokens in, text safe to show out: ``push(token)`` per token (``stopped`` once a
    stop string matched: stop generating), ``flush()`` at the end."""

    def __init__(self, decode: Decode, stops: Iterable[str] = ()) -> None:
        self.decoder = IncrementalDecoder(decode)
        self.matcher = StopMatcher(stops)

    @property
    def stopped(self) -> bool:
        return self.matcher.stopped

    def push(self, token: int) -> str:
        return self.matcher.feed(self.decoder.push(token))

    def flush(self) -> str:
        return self.matcher.flush()
