"""Speculative decoding in process: prompt lookup drafts what followed the text's last
n-gram, k adapts to acceptance and step time, and greedy output through three real
SmolLM2 spans equals plain decoding token for token while taking fewer steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.speculative import (
    DraftLength,
    DraftModel,
    SpeculativeStats,
    generate_speculative,
    prompt_lookup,
)
from node.core.errors import ConfigError
from node.engine import InProcessRoute, Span

REPEAT = [{"role": "user", "content": (
    "Repeat this sentence exactly: The Rhine rises in the Swiss Alps and flows north to the "
    "North Sea.")}]


def test_prompt_lookup_drafts_what_followed_the_longest_matching_suffix() -> None:
    text = [5, 6, 7, 8, 9, 1, 6, 7, 3, 4, 5, 6, 7]
    assert prompt_lookup(text, 3) == [8, 9, 1]  # "5 6 7" (the longest suffix) at the start
    assert prompt_lookup(text[:-1], 2) == [7, 8]  # "4 5 6" never came before; "5 6" did
    assert prompt_lookup([1, 2, 3, 9, 2, 3], 2) == [9, 2]
    assert prompt_lookup([1, 2, 3], 4) == []  # nothing repeats
    assert prompt_lookup(text, 0) == []


def test_draft_length_grows_with_acceptance_and_round_trip() -> None:
    lengths = DraftLength(max_draft=8)
    lengths.observe(0, 0, 10.0)
    for _ in range(10):
        lengths.observe(4, 0, 14.0)  # nothing accepted: drafting only costs
    assert lengths.choose() == 0
    good = DraftLength(max_draft=8)
    good.observe(0, 0, 100.0)  # a 100 ms round trip
    for _ in range(10):
        good.observe(4, 4, 104.0)
    assert good.choose() == 8


@pytest.mark.model
@pytest.mark.slow
def test_speculative_greedy_equals_plain_decoding_in_fewer_steps(smollm2_dir: Path) -> None:
    client = ClientModel(smollm2_dir, verify=False)
    spans = [Span(smollm2_dir, a, b, verify=False) for a, b in ((0, 10), (10, 20), (20, 30))]
    prompt = client.encode_chat(REPEAT)
    params = SamplingParams(max_new_tokens=24)
    plain = list(generate_tokens(client, InProcessRoute(spans), prompt, params))
    stats = SpeculativeStats()
    route = InProcessRoute(spans)
    fast = list(generate_speculative(client, route, prompt, params, stats=stats))
    assert fast == plain
    assert stats.accepted > 0 and stats.steps < len(fast) - 1
    assert all(host.stats()["sessions"] == 0 for host in route.hosts)
    with pytest.raises(ConfigError, match="greedy only"):
        next(generate_speculative(client, route, prompt, SamplingParams(temperature=0.7)))


@pytest.mark.model
@pytest.mark.slow
def test_an_int8_draft_model_keeps_greedy_output_and_is_mostly_accepted(smollm2_dir: Path) -> None:
    client = ClientModel(smollm2_dir, verify=False)
    spans = [Span(smollm2_dir, 0, 30, verify=False)]
    prompt = client.encode_chat([{"role": "user", "content": "Write a short poem about the sea."}])
    params = SamplingParams(max_new_tokens=16)
    plain = list(generate_tokens(client, InProcessRoute(spans), prompt, params))
    draft_route = InProcessRoute([Span(smollm2_dir, 0, 30, verify=False, quant="int8")])
    stats = SpeculativeStats()
    fast = list(generate_speculative(client, InProcessRoute(spans), prompt, params, stats=stats,
                                     drafter=DraftModel(client, draft_route)))
    assert fast == plain
    assert stats.acceptance > 0.5 and stats.steps < len(fast) / 2
    assert all(host.stats()["sessions"] == 0 for host in draft_route.hosts)
