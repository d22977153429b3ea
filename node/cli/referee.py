"""``helio referee``: a referee as its own process (docs/verification.md).

    helio referee --initial-peers /ip4/…/p2p/… --rpc-url http://127.0.0.1:8545 --dev-account 5

It joins the swarm as a client, routes like one (reputation-weighted, never to jailed or
caught inferers) and, as its own traffic, sends probe generations of real text through
the swarm every ``--probe-interval`` seconds (an inferer cannot tell them from users'
requests: same embeddings, same protocol). A fraction ``--rate`` of finished sessions is
re-executed on independent inferers after the answer (node/referee/spotcheck.py);
passed checks and fraud claims go on chain when its key holds VERIFIER_ROLE and stake.
A gateway embeds the same referee for its users' sessions (``node.client.audit.embed_referee``).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import typer

from node.cli.chain_access import open_chain
from node.cli.stake import DevAccount, Network
from node.core.errors import ConfigError

log = logging.getLogger(__name__)

AUDIT_WAIT_S = 300.0  # with --max-probes: how long the sampled sessions' audits may take at exit
PROBES = (
    "Explain how a solar inverter decides when to feed power into the grid.",
    "Write two sentences about the history of the printing press.",
    "What is the difference between a list and a tuple in Python?",
    "Summarize why wind turbines are placed far apart from each other.",
)

InitialPeers = typer.Option(..., "--initial-peers", help="a multiaddr of the swarm (repeatable)")
EvidenceDir = typer.Option(None, "--evidence-dir", help="write each fraud's evidence JSON here")


def referee(
    initial_peers: list[str] = InitialPeers,
    rpc_url: str = typer.Option(None, "--rpc-url", help="JSON-RPC URL (default: HELIO_RPC_URL); none: off-chain"),
    network: str = Network,
    dev_account: int = DevAccount,
    model: str = typer.Option("smollm2-135m-instruct", "--model", help="the model the probes use"),
    rate: float = typer.Option(0.01, "--rate", min=0.0, max=1.0, help="fraction of sessions re-executed"),
    probe_interval: float = typer.Option(30.0, "--probe-interval", min=0.0,
                                         help="seconds between probe generations (0: none)"),
    probe_tokens: int = typer.Option(16, "--probe-tokens", min=1, help="tokens per probe"),
    evidence_dir: Path = EvidenceDir,
    max_probes: int = typer.Option(0, "--max-probes", min=0, help="stop after this many probes (0: run on)"),
) -> None:
    """Spot-check the swarm: probe it, re-execute a sample on independent inferers, post
    the outcomes and fraud claims on chain."""
    from node.client import ClientModel, SamplingParams, stream_text
    from node.client.audit import embed_referee
    from node.client.swarm_client import swarm_client
    from node.core.settings import Settings
    from node.models.convert import convert_model

    chain = open_chain(network, rpc_url, dev_account) if rpc_url else None
    if chain is not None and chain.account is not None and not chain.verification.c.functions.isVerifier(
            chain.account.address).call():
        raise ConfigError(f"{chain.account.address} has no VERIFIER_ROLE: its checks would revert; "
                          "ask governance for the role or run without --rpc-url")
    local = ClientModel(convert_model(model, "fp32", Settings().cache_dir, progress=False).model_dir)
    client = swarm_client(list(initial_peers), chain=chain)
    checker, loop_task = embed_referee(client, chain=chain, rate=rate, evidence_dir=evidence_dir)
    log.info("referee: sampling %.2f %% of sessions; %s", rate * 100,
             "posting on chain" if chain is not None else "off-chain (no --rpc-url)")
    rng = random.Random()
    probes = 0
    try:
        while probe_interval > 0 and (max_probes == 0 or probes < max_probes):
            route = client.route(model, local.manifest.num_blocks, int(local.config.hidden_size))
            messages = [{"role": "user", "content": rng.choice(PROBES)}]
            try:
                "".join(stream_text(local, route, local.encode_chat(messages),
                                    SamplingParams(max_new_tokens=probe_tokens)))
            except Exception as exc:  # a failed probe is logged; the referee goes on
                log.warning("probe failed: %s", exc)
            probes += 1
            time.sleep(probe_interval)
        deadline = time.monotonic() + AUDIT_WAIT_S
        while max_probes == 0 or (checker.audited < checker.sampled and time.monotonic() < deadline):
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        loop_task.cancel()
        client.close()
        outcomes = [v.outcome for v in checker.verdicts]
        summary = {o: outcomes.count(o) for o in sorted(set(outcomes))}
        log.info("referee: %d sessions offered, %d sampled; verdicts %s", checker.offered,
                 checker.sampled, summary)
        print(f"HELIO_REFEREE offered={checker.offered} sampled={checker.sampled} verdicts={summary}",
              flush=True)
