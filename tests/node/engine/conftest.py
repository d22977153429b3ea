"""Engine test fixtures: tiny random models of every family (written once per session)
and ``run_spans``, which drives span hosts the way ``greedy_reference`` drives the full
model, so the two can be compared with ``torch.equal``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch

from node.client import ClientModel
from node.engine import SpanHost, StepRequest
from node.models.tiny import TINY_CONFIGS, write_tiny_model


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {family: write_tiny_model(family, root / family, seed=7) for family in TINY_CONFIGS}


RunSpans = Callable[..., list[torch.Tensor]]


@pytest.fixture(scope="session")
def run_spans() -> RunSpans:
    def run(
        client: ClientModel,
        hosts: Sequence[SpanHost],
        prompts: list[list[int]],
        tokens: list[list[int]],
        *,
        last_only: bool = False,
    ) -> list[torch.Tensor]:
        """Prefill ``prompts`` (one session each) then feed ``tokens[row][step]``; the
        client's head runs on the same (left-padded) batch as the full model's."""
        sessions = [f"s{row}" for row in range(len(prompts))]
        for host in hosts:
            for sid in sessions:
                host.open(sid, max(len(p) for p in prompts) + len(tokens[0]) + 1)

        def through(hiddens: list[torch.Tensor], positions: list[int]) -> list[torch.Tensor]:
            for host in hosts:
                if len(hiddens) == 1:
                    hiddens = [host.step(sessions[0], hiddens[0], positions[0])]
                    continue
                results = host.step_batch(
                    [
                        StepRequest(s, h, p)
                        for s, h, p in zip(sessions, hiddens, positions, strict=True)
                    ]
                )
                assert all(isinstance(r, torch.Tensor) for r in results), results
                hiddens = results  # type: ignore[assignment]
            return hiddens

        outs = through([client.embed(torch.tensor([p])) for p in prompts], [0] * len(prompts))
        width = max(len(p) for p in prompts)
        padded = torch.zeros(len(prompts), width, client.hidden_size)
        for row, out in enumerate(outs):
            padded[row, width - out.shape[1] :] = out[0]
        logits = [client.logits(padded[:, -1:] if last_only else padded)]
        for step in range(len(tokens[0])):
            column = [torch.tensor([[t[step]]]) for t in tokens]
            outs = through([client.embed(c) for c in column], [len(p) + step for p in prompts])
            logits.append(client.logits(torch.cat(outs)))
        for host in hosts:
            for sid in sessions:
                host.close(sid)
        return logits

    return run
