"""Start a gateway inside another program (``make demo``): build it, serve it in a thread
on loopback, and ask it a question with the official ``openai`` SDK."""

from __future__ import annotations

import logging
from pathlib import Path

from gateway.app import create_app
from gateway.chain_link import ChainLink
from gateway.served_model import ServedModel, in_process_routes
from gateway.server import GatewayServer
from gateway.settings import GatewaySettings
from gateway.state import Gateway, build_gateway
from node.client import ClientModel

log = logging.getLogger(__name__)


def serve_model_dir(model_id: str, model_dir: Path, spans: int = 1) -> ServedModel:
    factory, info = in_process_routes(model_dir, spans)
    client = ClientModel(model_dir)
    return ServedModel(model_id, client, factory, client.manifest.num_blocks, info)


def serve_in_thread(
    models: dict[str, ServedModel], chain: ChainLink | None = None,
    settings: GatewaySettings | None = None,
) -> tuple[Gateway, GatewayServer]:
    """Serve on ``settings.host:settings.port`` (default 127.0.0.1:8000), or on any free
    port if that one is taken."""
    settings = settings or GatewaySettings()
    gateway = build_gateway(settings, models, chain)
    app = create_app(gateway)
    try:
        server = GatewayServer(app, settings.host, settings.port)
    except OSError:
        log.warning("port %d is taken; using a free port", settings.port)
        server = GatewayServer(app, settings.host, 0)
    return gateway, server.start()


def ask(url: str, model_id: str, question: str, max_tokens: int) -> str:
    """One chat request through the gateway's HTTP API with the official SDK (free tier)."""
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
    reply = client.chat.completions.create(
        model=model_id, messages=[{"role": "user", "content": question}],
        max_tokens=max_tokens, temperature=0,
    )
    return (reply.choices[0].message.content or "").strip()
