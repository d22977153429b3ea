"""Token ids → text deltas for streaming, with OpenAI ``stop`` strings.

Decoding token by token breaks multi-byte characters and merged word pieces, so the
whole text is decoded again for every token and only the new suffix is emitted; a
trailing U+FFFD (half a UTF-8 character) is held back until the next token completes it.
``StopMatcher`` holds back text that could be the start of a stop string.
"""

from __future__ import annotations

from typing import Any


class IncrementalDecoder:
    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.emitted = ""

    def push(self, token: int) -> str:
        """Add one token; return the text it completes (possibly empty)."""
        self.tokens.append(token)
        text = str(self.tokenizer.decode(self.tokens, skip_special_tokens=True))
        if text.endswith("\ufffd"):
            return ""
        delta = text[len(self.emitted) :] if text.startswith(self.emitted) else ""
        self.emitted = text if text.startswith(self.emitted) else self.emitted
        return delta


class StopMatcher:
    """Feed text deltas; get back what is safe to emit and whether a stop string matched."""

    def __init__(self, stops: list[str]) -> None:
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
