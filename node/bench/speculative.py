"""Speculative decoding over a real swarm (``helio bench swarm``'s ``speculative``): the
3-inferer swarm behind delaying TCP relays (``node/swarm/delay.py``), greedy decoding of
a chat prompt and of a summarize-this-text prompt, plain vs. prompt-lookup speculative,
at each simulated RTT; rounds alternate plain and speculative. Reports tokens/s
(median and range), the speed-up, the acceptance rate and whether the outputs were
identical; ``draft_model``: the same with drafts from an int8 copy of the whole model
in the client's process (``DraftModel``) instead of prompt lookup."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from node.bench.relayed import relayed_swarm
from node.client import ClientModel, SamplingParams, generate_tokens
from node.client.speculative import Drafter, DraftModel, SpeculativeStats, generate_speculative
from node.client.swarm_client import SwarmClient
from node.client.swarm_config import ClientConfig
from node.engine import InProcessRoute, Span

ARTICLE = (
    "The Rhine rises in the Swiss Alps, flows north along the border between Germany and "
    "France, and reaches the North Sea in the Netherlands. For centuries the Rhine has been "
    "one of the busiest waterways in Europe: barges carry coal, grain and containers between "
    "the port of Rotterdam and the industrial cities of the Ruhr. The river also gave its name "
    "to the Rhineland, a region known for its castles, its vineyards and its old trading towns."
)
PROMPTS = {
    "chat": [{"role": "user", "content": "Write a short poem about the sun and the sea."}],
    "summarize": [{"role": "user", "content": f"Summarize this text:\n\n{ARTICLE}"}],
}


def bench_speculative(model_dir: Path, logs: Path, spans: list[tuple[int, int]], threads: int,
                      model: ClientModel, model_id: str, n: int, rtts: tuple[int, ...] = (0, 25, 50, 100),
                      tokens: int = 32, rounds: int = 3, serve_args: Sequence[str] = ()) -> dict[str, Any]:
    # the draft model runs beside the client's head
    draft = Span(model_dir, 0, n, verify=False, quant="int8", device=model.embed_tokens.weight.device)
    draft_route = InProcessRoute([draft])
    out: dict[str, Any] = {"tokens": tokens, "rounds": rounds}
    with relayed_swarm(model_dir, logs, spans, threads, serve_args) as (swarm, set_rtt), \
            SwarmClient(swarm.initial_peers, config=ClientConfig(step_timeout_s=60)) as client:
        client.wait_for_coverage(model_id, n)
        for rtt in rtts:
            set_rtt(rtt)
            out[str(rtt)] = {
                name: _compare(client, model, model_id, n, model.encode_chat(messages),
                               tokens, rounds)
                for name, messages in PROMPTS.items()
            }
            out[str(rtt)]["draft_model"] = {
                name: _compare(client, model, model_id, n, model.encode_chat(messages),
                               tokens, rounds, DraftModel(model, draft_route))
                for name, messages in PROMPTS.items()
            }
    return out


def _compare(client: SwarmClient, model: ClientModel, model_id: str, n: int, ids: list[int],
             tokens: int, rounds: int, drafter: Drafter | None = None) -> dict[str, Any]:
    params = SamplingParams(max_new_tokens=tokens)
    plain_rates, fast_rates, accepted, drafted, steps, produced = [], [], 0, 0, 0, 0
    identical = True
    for _ in range(rounds):
        started = time.perf_counter()
        plain = list(generate_tokens(model, client.route(model_id, n, model.hidden_size), ids, params))
        plain_rates.append(len(plain) / (time.perf_counter() - started))
        stats = SpeculativeStats()
        started = time.perf_counter()
        fast = list(generate_speculative(model, client.route(model_id, n, model.hidden_size), ids,
                                         params, stats=stats, drafter=drafter))
        fast_rates.append(len(fast) / (time.perf_counter() - started))
        identical &= fast == plain
        accepted, drafted, steps = accepted + stats.accepted, drafted + stats.drafted, steps + stats.steps
        produced += len(fast)
    plain_median, fast_median = statistics.median(plain_rates), statistics.median(fast_rates)
    return {
        "plain_tokens_per_s": round(plain_median, 2),
        "plain_range": [round(min(plain_rates), 2), round(max(plain_rates), 2)],
        "speculative_tokens_per_s": round(fast_median, 2),
        "speculative_range": [round(min(fast_rates), 2), round(max(fast_rates), 2)],
        "speedup": round(fast_median / plain_median, 3),
        "acceptance": round(accepted / drafted, 3) if drafted else 0.0,
        "tokens_per_step": round(produced / max(steps, 1), 2),  # decode steps: the first token is the prefill's
        "identical": identical,
    }

