"""Model evaluation (``helio model evaluate``): what an inferer measures of a proposed
model on its own machine before token holders vote on adopting it.

- ``tokens_per_s``: greedy decode of ``decode_tokens`` after a short chat prompt (plain
  text for a base model, which has no chat template), the whole model in process (the client head included, as a user would see it);
- ``accuracy``: next-token accuracy on real English text (``node/bench/scoring.py``:
  CPython's reference pages, teacher-forced): the share of positions where the model's
  most likely next token is the actual one; ``perplexity`` on the same tokens;
- ``mj_per_token``: the machine's power draw while serving (``watts``, the operator's
  figure, the same one the energy controller budgets with) over ``tokens_per_s``.

The numbers go on chain as ``ModelRegistry.postBenchmark(tokens/s × 1000, mJ/token,
accuracy in basis points)``; the chain needs a minimum count of them before a vote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from node.bench.decode import greedy_decode_rate
from node.bench.machine import machine_info
from node.bench.scoring import TEXT_SOURCE, english_text, score
from node.client import ClientModel
from node.core.errors import ConfigError
from node.engine import InProcessRoute, Span

PROMPT = [{"role": "user", "content": "Explain in two sentences why the sky is blue."}]
PLAIN_PROMPT = "Why is the sky blue? In two sentences:"


@dataclass(frozen=True)
class ModelEvaluation:
    model_id: str
    tokens_per_s: float
    accuracy: float  # next-token top-1 accuracy on the text, 0..1
    perplexity: float
    mj_per_token: int
    watts: float
    quality_tokens: int
    decode_tokens: int
    text: str
    machine: dict[str, Any]

    @property
    def accuracy_bps(self) -> int:
        return round(self.accuracy * 10_000)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy_bps": self.accuracy_bps}


@torch.inference_mode()
def evaluate_model(model_dir: Path, *, watts: float, decode_tokens: int = 32,
                   quality_tokens: int = 512, threads: int | None = None) -> ModelEvaluation:
    if watts <= 0:
        raise ConfigError("--watts must be positive: the machine's draw while serving")
    if decode_tokens < 1 or quality_tokens < 2:
        raise ConfigError("decode_tokens must be ≥ 1 and quality_tokens ≥ 2")
    if threads:
        torch.set_num_threads(threads)
    client = ClientModel(model_dir)
    n = client.manifest.num_blocks
    route = InProcessRoute([Span(model_dir, 0, n)])

    ids = client.encode(english_text())[:quality_tokens]
    scored = score(client, route, ids)
    targets = torch.tensor(ids[1:])
    accuracy = float((scored.top1 == targets).float().mean())

    # a base model (no chat template) is timed on the same request as plain text
    prompt = client.encode_chat(PROMPT) if client.tokenizer.chat_template else client.encode(PLAIN_PROMPT)
    rate = greedy_decode_rate(client, route, prompt, decode_tokens)
    tokens_per_s = round(rate, 3)
    return ModelEvaluation(
        model_id=client.manifest.model_id, tokens_per_s=tokens_per_s,
        accuracy=round(accuracy, 4), perplexity=round(scored.perplexity, 3),
        mj_per_token=round(watts / tokens_per_s * 1000), watts=watts,
        quality_tokens=len(ids), decode_tokens=decode_tokens, text=TEXT_SOURCE,
        machine=machine_info(),
    )
