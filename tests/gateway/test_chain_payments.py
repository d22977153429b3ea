"""The gateway on a real chain: anvil + the deployed contracts. Vouchers for an on-chain
channel are checked against the Payments contract and redeemed there in one batch; the
model list comes from ModelRegistry; contributor limits from StakingRegistry."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from eth_account import Account
from gwkit import CLIENT, INFERER, MODEL, QUESTION

from gateway.app import create_app
from gateway.chain_link import ChainLink
from gateway.server import GatewayServer
from gateway.settings import GatewaySettings
from gateway.state import build_gateway
from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.client.contributor import CONTRIBUTOR_HEADER, contributor_header
from node.client.vouchers import (
    VOUCHER_HEADER,
    VoucherWallet,
)
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain

pytestmark = [pytest.mark.chain, pytest.mark.model, pytest.mark.slow]

HELIO = 10**18


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainLink]:
    ensure_compiled()
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test",
                                directory=tmp_path_factory.mktemp("deployments"))
        yield ChainLink(w3, deployment, anvil.rpc_url)


@pytest.fixture(scope="module")
def running(chain: ChainLink, served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    desk = tmp_path_factory.mktemp("desk") / "desk.sqlite"
    gateway = build_gateway(GatewaySettings(free_requests_per_minute=1, contributor_multiplier=2, desk_path=desk),
                            {MODEL: served}, chain)
    with GatewayServer(create_app(gateway)) as server:
        yield server.url, gateway


def _open_channel(chain: ChainLink, payee: str, deposit: int) -> int:
    client = HelioChain(chain.w3, chain.deployment, Account.from_key(CLIENT.private_key))
    return client.payments.open_channel(payee, deposit, int(time.time()) + 7200)


def test_models_come_from_the_model_registry(running, chain: ChainLink) -> None:
    url, _ = running
    assert HelioChain(chain.w3, chain.deployment).models.is_adopted(MODEL)
    assert [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]] == [MODEL]


def test_paid_requests_on_chain_and_batch_redemption(running, chain: ChainLink) -> None:
    url, gateway = running
    info = httpx.get(f"{url}/v1/payments").json()
    payments = HelioChain(chain.w3, chain.deployment).payments
    assert info["on_chain"] and info["payments_contract"] == payments.address
    channel = _open_channel(chain, info["payee"], 10 * HELIO)
    wallet = VoucherWallet.from_gateway_info(info, private_key=CLIENT.private_key, channel=channel)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0,
                           http_client=httpx.Client(auth=wallet.auth(), timeout=120))
    for _ in range(2):  # over the free limit of 1/min: paid requests are not rate-limited
        assert client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2).choices

    generated = gateway.generator.tokens_generated
    over = VoucherWallet.from_gateway_info(info, private_key=CLIENT.private_key, channel=channel)
    over.charged_total = wallet.charged_total
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": QUESTION, "max_tokens": 2},
                   headers={VOUCHER_HEADER: over.header(11 * HELIO)}, timeout=60)
    assert r.status_code == 402 and r.json()["error"]["code"] == "insufficient_deposit"
    over.domain = Domain(PAYMENTS_DOMAIN_NAME, 1, payments.address)
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": QUESTION, "max_tokens": 2},
                   headers={VOUCHER_HEADER: over.header(HELIO)}, timeout=60)
    assert r.status_code == 402 and r.json()["error"]["code"] == "wrong_chain"
    assert gateway.generator.tokens_generated == generated  # refused before any inference

    account = gateway.desk.accounts[channel]
    assert gateway.redeem_loop.redeem_now() == 1
    assert gateway.redeem_loop.last_tx.startswith("0x")
    # the charged total, not the last voucher's bound (which covered max_tokens unused)
    assert payments.channel(channel)["redeemed"] == account.charged < account.accepted
    assert gateway.redeem_loop.redeem_now() == 0


def test_channel_expiring_before_the_next_redemption_is_refused_before_any_work(running, chain: ChainLink) -> None:
    """Attack: open a channel that expires at once, spend against it, reclaim the deposit
    before the gateway redeems. The gateway wants 2 × redeem interval + grace left."""
    url, gateway = running
    info = httpx.get(f"{url}/v1/payments").json()
    assert info["channel_margin_s"] == 2 * 60 + 60
    client = HelioChain(chain.w3, chain.deployment, Account.from_key(CLIENT.private_key))
    channel = client.payments.open_channel(info["payee"], HELIO, int(time.time()) + 100)
    wallet = VoucherWallet.from_gateway_info(info, private_key=CLIENT.private_key, channel=channel)
    generated = gateway.generator.tokens_generated
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": QUESTION, "max_tokens": 2},
                   headers={VOUCHER_HEADER: wallet.header(HELIO // 100)}, timeout=60)
    assert r.status_code == 402 and r.json()["error"]["code"] == "channel_expiring", r.text
    assert "expires at" in r.json()["error"]["message"]
    assert gateway.generator.tokens_generated == generated  # refused before any inference
    assert channel not in gateway.desk.accounts


def test_staked_inferer_gets_contributor_limits(running, chain: ChainLink) -> None:
    url, gateway = running
    inferer = HelioChain(chain.w3, chain.deployment, Account.from_key(INFERER.private_key))
    inferer.staking.ensure_staked(peer_id="12D3KooWGatewayTest", attestation_key=INFERER.address,
                                  region="eu", capacity=1)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120,
                           default_headers={CONTRIBUTOR_HEADER: contributor_header(INFERER.private_key, gateway.desk.payee, ANVIL_CHAIN_ID)})
    for _ in range(2):  # 2 × the free limit of 1
        client.completions.create(model=MODEL, prompt="Hi", max_tokens=1)
    with pytest.raises(openai.RateLimitError):
        client.completions.create(model=MODEL, prompt="Hi", max_tokens=1)
    stranger = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60,
                             default_headers={CONTRIBUTOR_HEADER: contributor_header(CLIENT.private_key, gateway.desk.payee, ANVIL_CHAIN_ID)})
    with pytest.raises(openai.PermissionDeniedError):
        stranger.completions.create(model=MODEL, prompt="Hi", max_tokens=1)


def test_helio_wallet_and_chat_cli(running, chain: ChainLink, tmp_path, monkeypatch) -> None:
    """`helio wallet deposit|balance|voucher` on anvil, the voucher used by the openai SDK,
    and `helio chat --gateway --once` streaming an answer."""
    from typer.testing import CliRunner

    from node.cli.main import app

    url, _ = running
    chain.deployment.save(tmp_path)
    monkeypatch.setenv("HELIO_DEPLOYMENTS_DIR", str(tmp_path))
    common = ["--rpc-url", chain.rpc_url, "--network", "test", "--dev-account", "3"]
    runner = CliRunner()
    opened = runner.invoke(app, ["wallet", "deposit", "5", "--gateway", url, *common])
    assert opened.exit_code == 0, opened.output
    channel = int(opened.output.strip().splitlines()[-1])
    shown = runner.invoke(app, ["wallet", "balance", "--channel", str(channel), *common])
    assert shown.exit_code == 0 and "5" in shown.output, shown.output
    topped = runner.invoke(app, ["wallet", "deposit", "2", "--channel", str(channel), *common])
    assert topped.exit_code == 0, topped.output
    assert HelioChain(chain.w3, chain.deployment).payments.channel(channel)["deposit"] == 7 * 10**18
    signed = runner.invoke(app, ["wallet", "voucher", "500", "--channel", str(channel), "--gateway", url, *common])
    assert signed.exit_code == 0, signed.output
    header = signed.output.strip().splitlines()[-1]
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120,
                           default_headers={VOUCHER_HEADER: header})
    assert client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2).choices
    answered = runner.invoke(app, ["chat", "--gateway", url, "--once", "What is the capital of France?",
                                   "--temperature", "0", "--max-tokens", "12"])
    assert answered.exit_code == 0 and "Paris" in answered.output, answered.output


def test_contribution_epoch_is_posted_and_claimed(running, chain: ChainLink) -> None:
    """After paid requests were redeemed (the inferers' share fills the pool), the embedded
    referee closes the epoch, posts the Merkle root, and the inferer claims with its proof."""
    from gateway.contributions.serving import close_epoch

    url, gateway = running
    assert gateway.redeem_loop.vouchers_redeemed >= 1  # test_paid_requests_... ran first
    # The referee (anvil dev key 0) holds REFEREE_ROLE and no stake: its signature suffices.
    referee = HelioChain(chain.w3, chain.deployment, Account.from_key(DEV_ACCOUNTS[0].private_key))
    pool = referee.payments.pool_of(gateway.desk.payee)  # this gateway's own pool
    assert pool > 0
    record = close_epoch(gateway)
    assert record is not None and record.chain_epoch is not None and 0 < record.total <= pool
    (inferer, amount), = record.amounts  # in-process spans: the gateway operator ran every block
    assert inferer == gateway.desk.payee
    published = httpx.get(f"{url}/v1/contributions").json()["closed"][-1]
    assert published["root"] == "0x" + record.root.hex()
    claimer = HelioChain(chain.w3, chain.deployment, Account.from_key(DEV_ACCOUNTS[1].private_key))
    chain.w3.provider.make_request("evm_increaseTime", [referee.payments.epoch_rules()[1]])  # type: ignore[arg-type]
    chain.w3.provider.make_request("anvil_mine", ["0x1"])  # type: ignore[arg-type]  # the challenge delay
    before = claimer.token.balance_of(inferer)
    claimer.payments.claim(record.chain_epoch, inferer, amount, record.proof(inferer))
    assert claimer.token.balance_of(inferer) == before + amount
