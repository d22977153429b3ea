"""Detokenizing without a model: stop strings held back and cut, half UTF-8 characters
held until complete, and both chained as ``stream_text`` and the gateway use them."""

from __future__ import annotations

import pytest

from node.client.detok import Detokenizer, IncrementalDecoder, StopMatcher


@pytest.mark.parametrize(
    ("deltas", "stops", "out", "stopped"),
    [
        (["Hel", "lo wor", "ld"], [], "Hello world", False),
        (["The capital", " is", " Paris"], [" is"], "The capital", True),
        (["a<", "|e", "nd|>b"], ["<|end|>"], "a", True),
        (["a<", "b"], ["<|end|>"], "a<b", False),  # held back, then released
        (["xSTO", "Py"], ["STOP", "TOPy"], "x", True),  # earliest match wins
    ],
)
def test_stop_matcher(deltas: list[str], stops: list[str], out: str, stopped: bool) -> None:
    m = StopMatcher(stops)
    text = "".join(m.feed(d) for d in deltas) + m.flush()
    assert (text, m.stopped) == (out, stopped)


def _bytes_decode(ids: list[int]) -> str:
    """One token per UTF-8 byte: splits multi-byte characters across tokens."""
    return bytes(ids).decode("utf-8", errors="replace")


def test_incremental_decoder_holds_half_characters() -> None:
    d = IncrementalDecoder(_bytes_decode)
    pieces = [d.push(b) for b in "é☀".encode()]
    assert "".join(pieces) == "é☀" and "\ufffd" not in "".join(pieces)


def test_detokenizer_stops_before_a_stop_string_split_across_characters() -> None:
    detok = Detokenizer(_bytes_decode, ("☀ST",))
    pieces = []
    for b in "é ☀STOP".encode():
        pieces.append(detok.push(b))
        if detok.stopped:
            break
    assert "".join(pieces) + detok.flush() == "é " and detok.stopped
    unstopped = Detokenizer(_bytes_decode, ("zz",))
    text = "".join(unstopped.push(b) for b in "naïve z".encode())
    assert text + unstopped.flush() == "naïve z" and not unstopped.stopped
