"""``helio chat``: an interactive, streaming chat through a gateway (the OpenAI API) or
straight to the swarm (``--initial-peers``: this machine is the client, prompts never
leave it as text)."""

from __future__ import annotations

import atexit
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

import typer
from rich.console import Console

from node.cli.swarm_common import InitialPeers
from node.core.errors import ConfigError

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

console = Console()
# (messages, max_tokens, temperature) → the answer's text pieces as they arrive
Stream = Callable[[list[dict[str, str]], int, float], Iterator[str]]


def chat(
    gateway: str = typer.Option(None, "--gateway", help="gateway URL, e.g. http://127.0.0.1:8000"),
    peers: list[str] = InitialPeers,
    model: str = typer.Option("smollm2-135m-instruct", "--model", "-m", help="model id"),
    max_tokens: int = typer.Option(256, "--max-tokens", help="new tokens per answer at most"),
    temperature: float = typer.Option(0.7, "--temperature", help="0 = greedy"),
    system: str = typer.Option(None, "--system", help="a system prompt"),
    once: str = typer.Option(None, "--once", help="ask this one question, print the answer, exit"),
    wire_codec: str = typer.Option("auto", "--wire-codec", help="hidden states on the wire: auto (the best every server of the route offers), fp16, bf16, int8-blockwise, none"),
    device: str = typer.Option("cpu", "--device", help="where the client's embeddings and head run: auto, cpu, cuda, mps"),
    speculative: bool = typer.Option(False, "--speculative", help="with --temperature 0 and --initial-peers: draft tokens by prompt lookup and let the swarm verify several per step (same output, fewer round trips)"),
) -> None:
    """Chat with a model, through a gateway (--gateway) or straight to the swarm
    (--initial-peers); the answer streams as it is generated. Ctrl-D or /exit quits."""
    from node.cli.swarm_common import initial_peers

    peers = initial_peers(peers) if not gateway else []
    if bool(gateway) == bool(peers):
        raise ConfigError("give exactly one of --gateway URL or --initial-peers MULTIADDR")
    if speculative and (gateway or temperature > 0):
        raise ConfigError("--speculative needs --initial-peers and --temperature 0 (greedy)")
    stream = (_gateway_stream(gateway, model) if gateway
              else _swarm_stream(peers, model, wire_codec, device, speculative))
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    questions = iter([once]) if once else None
    while True:
        try:
            question = next(questions) if questions else console.input("[bold green]you>[/] ")
        except (EOFError, StopIteration):
            break
        if question.strip() in {"/exit", "/quit"}:
            break
        if not question.strip():
            continue
        history.append({"role": "user", "content": question})
        parts: list[str] = []
        if not once:
            console.print("[bold cyan]model>[/] ", end="")
        for piece in stream(history, max_tokens, temperature):
            parts.append(piece)
            console.print(piece, end="", markup=False, highlight=False)
        console.print()
        history.append({"role": "assistant", "content": "".join(parts)})


def _gateway_stream(url: str, model: str) -> Stream:
    import openai

    client = openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key="unused", max_retries=1)

    def stream(
        messages: list[dict[str, str]], max_tokens: int, temperature: float
    ) -> Iterator[str]:
        try:
            wire = cast("list[ChatCompletionMessageParam]", messages)  # the same dicts
            for chunk in client.chat.completions.create(model=model, messages=wire,
                                                        max_tokens=max_tokens, temperature=temperature,
                                                        stream=True):
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APIStatusError as exc:
            raise ConfigError(f"the gateway refused: {exc.status_code} {exc.message}") from None
        except openai.APIConnectionError:
            raise ConfigError(f"cannot reach the gateway at {url}") from None

    return stream


def _swarm_stream(peers: list[str], model: str, wire_codec: str, device: str,
                  speculative: bool) -> Stream:
    from node.client import ClientModel, SamplingParams, stream_text
    from node.client.speculative import generate_speculative
    from node.client.swarm_client import SwarmClient
    from node.client.swarm_config import ClientConfig
    from node.core.settings import Settings
    from node.engine.codecs import check_wire_codec
    from node.engine.device import resolve_device
    from node.models.convert import convert_model

    config = ClientConfig(codec=check_wire_codec(wire_codec))
    head_device = resolve_device(device)  # an absent GPU fails before anything loads
    with console.status("connecting to the swarm and loading the client part of the model…"):
        model_dir = convert_model(model, "fp32", Settings().cache_dir, progress=False).model_dir
        local = ClientModel(model_dir).to(head_device)
        swarm = SwarmClient(peers, config=config)
    atexit.register(swarm.close)
    hidden = int(local.config.hidden_size)

    def stream(
        messages: list[dict[str, str]], max_tokens: int, temperature: float
    ) -> Iterator[str]:
        route = swarm.route(model, local.manifest.num_blocks, hidden)
        params = SamplingParams(max_new_tokens=max_tokens, temperature=temperature)
        yield from stream_text(local, route, local.encode_chat(messages), params,
                               generate=generate_speculative if speculative else None)

    return stream
