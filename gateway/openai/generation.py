"""Serving steps both generation endpoints share: resolve the model, check the request
against limits, precheck who pays (voucher or free tier, counting nothing) before the
prompt is templated and tokenized in a worker thread, then admit it (the swarm's energy
capacity first, then payment or free tier), then run it to the end or stream it.
Everything that can refuse a request runs before the first token is computed, so a
refusal charges nothing; nothing heavy runs on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel

from gateway.admission import Checked, Ticket, admit, precheck
from gateway.energy_gate import Admission
from gateway.errors import APIError, at_capacity, model_not_found
from gateway.generator import Delta, GenerationRequest
from gateway.openai.common import SamplingRequest, Usage
from gateway.served_model import ServedModel
from gateway.state import Gateway
from node.core.errors import HeliomeshError
from node.referee.energy import AtCapacityError

log = logging.getLogger(__name__)

DISCONNECT_POLL_S = 0.2  # how often a non-streamed request checks that its client is there
_T = TypeVar("_T")


@dataclass
class Prepared:
    model: ServedModel
    generation: GenerationRequest
    ticket: Ticket
    energy: Admission | None = None  # the route's energy slots (swarm-served models)

    @property
    def prompt_tokens(self) -> int:
        return len(self.generation.prompt_ids)

    def done(self) -> None:
        """The request is over: free its energy slots unless the generator took them over
        (it frees them once the generation's route is closed)."""
        if self.energy is not None and not self.energy.handed_over:
            self.energy.release()


async def admit_energy(gateway: Gateway, model: ServedModel, max_length: int) -> Admission | None:
    """Slots on an admitted route of a swarm-served model, or 503 ``at_capacity`` after
    the queue wait (503 ``swarm_unavailable`` if no server covers the model)."""
    gate = gateway.energy_gates.get(model.model_id)
    if gate is None:
        return None
    try:
        return await gate.admit(gate.new_session(), max_length)
    except AtCapacityError as exc:
        gateway.metrics.at_capacity(model.model_id)  # the 503 itself: the HTTP middleware
        raise at_capacity(str(exc), gateway.settings.energy_retry_after_s) from None
    except HeliomeshError as exc:  # no route at all
        raise APIError(503, f"the network could not run this request: {exc}", type="server_error",
                       code="swarm_unavailable", headers={"Retry-After": "10"}) from exc


def resolve_model(gateway: Gateway, model_id: str) -> ServedModel:
    model = gateway.models.get(model_id)
    if model is None or not gateway.catalog.is_adopted(model_id):
        raise model_not_found(model_id, gateway.served_ids())
    return model


def max_tokens_of(gateway: Gateway, body: SamplingRequest, value: int | None) -> int:
    max_tokens = value or gateway.settings.default_max_tokens
    if max_tokens > gateway.settings.max_tokens_cap:
        raise APIError(400, f"max_tokens {max_tokens} is above this gateway's cap "
                       f"{gateway.settings.max_tokens_cap}", param="max_tokens")
    return max_tokens


async def precheck_prompt(gateway: Gateway, request: Request, model: ServedModel, max_tokens: int,
                          prompt_chars: int, param: str) -> Checked:
    """Before any tokenizer work: the prompt's size (400 naming ``param``), then who pays
    (``gateway.admission.precheck``: 400/402 for a bad voucher, 429 over the free tier)."""
    limit = gateway.settings.max_prompt_chars
    if prompt_chars > limit:
        raise APIError(400, f"the prompt has {prompt_chars} characters; this gateway takes at most "
                       f"{limit} (HELIO_GATEWAY_MAX_PROMPT_CHARS)", code="prompt_too_long", param=param)
    return await precheck(gateway, request, model.model_id, max_tokens)


async def tokenize(work: Callable[[], _T]) -> _T:
    """Run the chat template / tokenizer off the event loop (``/health`` stays prompt)."""
    return await asyncio.to_thread(work)


async def prepare(
    gateway: Gateway, request: Request, body: SamplingRequest, model: ServedModel,
    prompt_ids: list[int], max_tokens: int, checked: Checked,
) -> Prepared:
    if not prompt_ids:
        raise APIError(400, "the prompt is empty", param="prompt")
    if len(prompt_ids) + max_tokens > model.context_length:
        raise APIError(
            400,
            f"this model's context is {model.context_length} tokens; the prompt has "
            f"{len(prompt_ids)} and max_tokens is {max_tokens}. Shorten one of them.",
            code="context_length_exceeded", param="messages",
        )
    generation = GenerationRequest(
        prompt_ids=prompt_ids, max_tokens=max_tokens, temperature=body.temperature,
        top_p=body.top_p, seed=body.seed, stop=body.stop_list(),
    )
    energy = await admit_energy(gateway, model, len(prompt_ids) + max_tokens)
    try:
        ticket = await admit(gateway, request, model.model_id, len(prompt_ids) + max_tokens, checked)
    except BaseException:
        if energy is not None:
            energy.release()
        raise
    if energy is not None:
        generation.admission = energy
    return Prepared(model, generation, ticket, energy)


def _account(gateway: Gateway, prepared: Prepared, completion_tokens: int,
             usage: list[tuple[str | None, int]] | None) -> dict[str, str]:
    headers = prepared.ticket.settle(gateway, prepared.prompt_tokens, completion_tokens)
    gateway.metrics.tokens(prepared.prompt_tokens, completion_tokens, prepared.ticket.tier,
                           prepared.model.model_id)
    if usage is None:  # cancelled before the end: the model's spans did the work
        usage = [(s.address, s.end - s.start) for s in prepared.model.spans]
    used = prepared.prompt_tokens + completion_tokens
    gateway.accounting.record([(address or gateway.desk.payee, blocks) for address, blocks in usage], used)
    return headers


async def run_to_end(gateway: Gateway, request: Request, prepared: Prepared) -> tuple[str, str, int, dict[str, str]]:
    """(text, finish_reason, completion tokens, response headers); cancels the generation
    if the client goes away while waiting."""

    usage: list[list[tuple[str | None, int]] | None] = [None]

    async def collect() -> tuple[str, str, int]:
        parts, reason, count = [], "stop", 0
        async for delta in gateway.generator.generate(prepared.model, prepared.generation):
            parts.append(delta.text)
            count = delta.completion_tokens
            reason = delta.finish_reason or reason
            usage[0] = delta.route_usage or usage[0]
        return "".join(parts), reason, count

    task = asyncio.create_task(collect())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if not task.done() and await request.is_disconnected():
                task.cancel()
                log.info("client went away; generation cancelled")
        text, reason, count = task.result()
    except asyncio.CancelledError:
        prepared.ticket.cancel(gateway)
        raise
    except ValueError as exc:
        prepared.ticket.cancel(gateway)
        raise APIError(400, str(exc)) from None
    except BaseException:
        prepared.ticket.cancel(gateway)
        raise
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        prepared.done()
    return text, reason, count, _account(gateway, prepared, count, usage[0])


def sse(payload: BaseModel | dict[str, object]) -> str:
    data = payload.model_dump_json(exclude_none=False) if isinstance(payload, BaseModel) else json.dumps(payload)
    return f"data: {data}\n\n"


async def stream_events(
    gateway: Gateway,
    prepared: Prepared,
    first: list[str],
    chunk: Callable[[Delta], BaseModel],
    usage_chunk: Callable[[Usage], BaseModel] | None,
) -> AsyncIterator[str]:
    """SSE lines: ``first``, one chunk per delta, usage if asked, ``data: [DONE]``. A client
    disconnect closes this iterator, which cancels the generation and frees its sessions."""
    count = 0
    usage: list[tuple[str | None, int]] | None = None
    try:
        for line in first:
            yield line
        async for delta in gateway.generator.generate(prepared.model, prepared.generation):
            count = delta.completion_tokens
            usage = delta.route_usage or usage
            if delta.text or delta.finish_reason:
                yield sse(chunk(delta))
                prepared.ticket.progress(gateway, prepared.prompt_tokens, count)
        if usage_chunk is not None:
            yield sse(usage_chunk(Usage(prompt_tokens=prepared.prompt_tokens, completion_tokens=count,
                                        total_tokens=prepared.prompt_tokens + count)))
    except APIError as exc:
        gateway.metrics.error(exc.status)
        yield sse(exc.body())
    except ValueError as exc:
        gateway.metrics.error(400)
        yield sse(APIError(400, str(exc)).body())
    except Exception as exc:  # the stream has started: report in-band, as OpenAI does
        gateway.metrics.error(500)
        log.exception("generation failed mid-stream")
        yield sse(APIError(500, f"generation failed: {type(exc).__name__}", type="server_error").body())
    finally:
        prepared.done()
        _account(gateway, prepared, count, usage)
    yield "data: [DONE]\n\n"
