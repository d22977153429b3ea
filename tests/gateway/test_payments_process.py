"""Payments against a real ``helio gateway`` process on anvil: SIGKILLed mid-stream and
restarted, it redeems everything it served and nothing twice (its desk is a SQLite file);
the docs/api.md wallet snippet, run in two fresh processes, is paid both times (the
second resumes from the gateway's signed receipt, checked on-chain)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from gwkit import CLIENT, MODEL, QUESTION
from paykit import ROOT, GatewayProcess

from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.client.vouchers import CHARGED_HEADER, VoucherWallet

pytestmark = [pytest.mark.chain, pytest.mark.model, pytest.mark.slow]

HELIO = 10**18
REDEEM_INTERVAL_S = 2


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, HelioChain, Path]]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test", directory=directory)
        yield anvil.rpc_url, HelioChain(w3, deployment, Account.from_key(CLIENT.private_key)), directory


def _gateway(chain: tuple[str, HelioChain, Path], tmp_path: Path) -> GatewayProcess:
    rpc_url, _, directory = chain
    env = {"HELIO_DEPLOYMENTS_DIR": str(directory), "HELIO_GATEWAY_DESK_PATH": str(tmp_path / "desk.sqlite"),
           "HELIO_GATEWAY_REDEEM_INTERVAL_S": str(REDEEM_INTERVAL_S), "HELIO_GATEWAY_REDEEM_GRACE_S": "5"}
    return GatewayProcess(tmp_path / "gateway.log", ["--rpc-url", rpc_url, "--network", "test"], env)


def _redeemed(client: HelioChain, channel: int) -> int:
    return int(client.payments.channel(channel)["redeemed"])


def _settled(client: HelioChain, url: str, channel: int, timeout: float = 60.0) -> dict[str, str]:
    """Wait until the chain holds the gateway's charged total for ``channel``; the receipt."""
    deadline = time.monotonic() + timeout
    while True:
        receipt = httpx.get(f"{url}/v1/payments/channels/{channel}", timeout=10).json()
        if _redeemed(client, channel) == int(receipt["charged"]) and receipt["reserved"] == "0":
            return receipt
        assert time.monotonic() < deadline, (receipt, _redeemed(client, channel))
        time.sleep(0.5)


def test_sigkill_mid_stream_then_restart_redeems_everything_served_once(chain, tmp_path: Path) -> None:
    rpc_url, client, _ = chain
    first = _gateway(chain, tmp_path).start()
    try:
        info = httpx.get(f"{first.url}/v1/payments").json()
        channel = client.payments.open_channel(info["payee"], 10 * HELIO, int(time.time()) + 7200)
        wallet = VoucherWallet.from_gateway(first.url, private_key=CLIENT.private_key, channel=channel,
                                            rpc_url=rpc_url)
        http = httpx.Client(auth=wallet.auth(), timeout=120)
        for _ in range(2):
            r = http.post(f"{first.url}/v1/chat/completions",
                          json={"model": MODEL, "messages": QUESTION, "max_tokens": 3})
            assert r.status_code == 200, r.text
        charged_before = int(r.headers[CHARGED_HEADER])
        body = {"model": MODEL, "messages": QUESTION, "max_tokens": 400, "stream": True,
                "stream_options": {"include_usage": True}}
        chunks = 0
        with http.stream("POST", f"{first.url}/v1/chat/completions", json=body) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: {") and json.loads(line[6:]).get("choices"):
                    chunks += 1
                if chunks == 6:
                    time.sleep(1.5)  # past the desk's progress write interval
                if chunks == 8:
                    first.kill()  # SIGKILL mid-stream
                    break
    finally:
        first.kill()

    second = _gateway(chain, tmp_path).start()
    try:
        receipt = _settled(client, second.url, channel)
        charged = int(receipt["charged"])
        # the interrupted stream is charged what it had served: its prompt and ≥ 1 token,
        # no more than the tokens the client received
        prompt_bound = 200 * info["price_per_token_wei"]
        assert charged_before < charged <= charged_before + prompt_bound + chunks * info["price_per_token_wei"]
        time.sleep(3 * REDEEM_INTERVAL_S)  # more rounds: nothing is redeemed twice
        assert _redeemed(client, channel) == charged
        # a new process resumes from the receipt and its next voucher is accepted
        resumed = VoucherWallet.from_gateway(second.url, private_key=CLIENT.private_key, channel=channel,
                                             rpc_url=rpc_url)
        r = httpx.post(f"{second.url}/v1/chat/completions", timeout=120,
                       json={"model": MODEL, "messages": QUESTION, "max_tokens": 2},
                       headers={"X-Helio-Voucher": resumed.header(400 * info["price_per_token_wei"])})
        assert r.status_code == 200, r.text
        _run_docs_snippet_twice(second.url, rpc_url, client, channel)
    finally:
        second.kill()


def _run_docs_snippet_twice(url: str, rpc_url: str, client: HelioChain, channel: int) -> None:
    """The docs/api.md wallet snippet as written, in two fresh processes: both paid."""
    text = (ROOT / "docs" / "api.md").read_text()
    snippet = re.search(r"<!-- wallet-snippet.*?```python\n(.*?)```", text, re.S)
    assert snippet, "docs/api.md lost its wallet snippet"
    code = (f"KEY = {CLIENT.private_key!r}\nCHANNEL = {channel}\n" + snippet.group(1)
            .replace("http://127.0.0.1:8000", url).replace("http://127.0.0.1:8545", rpc_url))
    for _ in range(2):
        before = httpx.get(f"{url}/v1/payments/channels/{channel}", timeout=10).json()["charged"]
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        after = httpx.get(f"{url}/v1/payments/channels/{channel}", timeout=10).json()["charged"]
        assert int(after) > int(before)  # paid
