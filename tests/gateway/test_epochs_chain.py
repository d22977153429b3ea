"""Contribution epochs of real gateways on a real chain (anvil + the deployed contracts,
the local profile: the deployer is the only referee, one signature per root, claims open
60 s after a post). Each gateway's redemptions fill its own pool; its embedded referee
(anvil dev key 0, holding REFEREE_ROLE and no stake) closes its epochs and posts roots
that only spend that pool; the inferers claim once the challenge delay has passed; a
post that fails loses no work; a testnet-profile deploy (Sepolia's chain id, fresh
keys) pays the same way through its deployer referee. No model is loaded: the work a route would record is
recorded directly in the gateway's ledger (tests/gateway/test_chain_payments.py runs the
same close after real paid generations)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import Web3

from gateway.chain_link import ChainLink
from gateway.contributions.serving import close_epoch, epoch_loop
from gateway.settings import GatewaySettings
from gateway.state import Gateway, build_gateway
from node.chain import Anvil, connect, deploy_all, ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS
from node.chain.params import ChainParams
from node.crypto.eip712 import Voucher, model_key

pytestmark = pytest.mark.chain
HELIO = 10**18
DEMO = "smollm2-135m-instruct"
CLIENT = DEV_ACCOUNTS[2]
INFERERS = [Account.create().address for _ in range(3)]  # claimers hold nothing beforehand


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainLink]:
    ensure_compiled()
    with Anvil() as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
        deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "test",
                                directory=tmp_path_factory.mktemp("deployments"))  # fmt: skip
        yield ChainLink(w3, deployment, anvil.rpc_url)


def _gateway(chain: ChainLink, payee: int, tmp_path, epoch_s: float = 3600) -> Gateway:  # noqa: ANN001
    settings = GatewaySettings(payee_key=DEV_ACCOUNTS[payee].private_key, contribution_epoch_s=epoch_s,
                               desk_path=tmp_path / f"desk-{payee}.sqlite")  # fmt: skip
    return build_gateway(settings, {}, chain)


def _earn(chain: ChainLink, gateway: Gateway, amount: int) -> None:
    """A client pays ``amount`` to this gateway and it redeems: 70 % into its pool."""
    client = HelioChain(chain.w3, chain.deployment, Account.from_key(CLIENT.private_key)).payments
    channel = client.open_channel(gateway.desk.payee, amount, int(time.time()) + 86400)
    v = Voucher(
        CLIENT.address,
        gateway.desk.payee,
        channel,
        model_key(DEMO),
        amount,
        int(time.time()) + 3600,
    )
    payee = HelioChain(chain.w3, chain.deployment, Account.from_key(_key_of(gateway.desk.payee)))
    payee.payments.redeem(v, v.sign(CLIENT.private_key, client.domain()))


def _key_of(address: str) -> str:
    return next(a.private_key for a in DEV_ACCOUNTS if a.address == address)


def _advance(chain: ChainLink, seconds: int) -> None:
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("anvil_mine", ["0x1"])  # type: ignore[arg-type]


def _claim_all(chain: ChainLink, gateway: Gateway) -> dict[str, int]:
    """Every leaf of the gateway's last closed epoch claimed (by a stranger, as anyone may)."""
    record = gateway.accounting.closed[-1]
    assert record.chain_epoch is not None
    anyone = HelioChain(chain.w3, chain.deployment, Account.from_key(DEV_ACCOUNTS[9].private_key))
    paid = {}
    for inferer, amount in record.amounts:
        before = anyone.token.balance_of(inferer)
        anyone.payments.claim(record.chain_epoch, inferer, amount, record.proof(inferer))
        paid[inferer] = anyone.token.balance_of(inferer) - before
    return paid


def test_a_short_epoch_closes_on_its_own_and_the_inferers_claim_their_70_percent(
    chain: ChainLink, tmp_path
) -> None:  # noqa: ANN001
    gateway = _gateway(chain, 1, tmp_path, epoch_s=0.5)
    pool_before = gateway.chain.helio().payments.pool_of(gateway.desk.payee)  # type: ignore[union-attr]
    _earn(chain, gateway, 10 * HELIO)
    gateway.accounting.record([(INFERERS[0], 20), (INFERERS[1], 10)], tokens=30)

    async def one_epoch() -> None:  # the gateway's own loop, as its app runs it
        task = asyncio.create_task(epoch_loop(gateway))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if gateway.accounting.closed:
                break
        task.cancel()

    asyncio.run(one_epoch())
    (record,) = gateway.accounting.closed
    pool = pool_before + 7 * HELIO
    assert dict(record.amounts) == {INFERERS[0]: pool * 2 // 3, INFERERS[1]: pool // 3}  # pro rata
    assert record.payee == gateway.desk.payee and record.tx is not None
    assert pool - 2 < record.total <= pool  # the whole pool, less rounding dust
    assert gateway.accounting.work == {}  # cleared: the receipt was in
    payments = gateway.chain.helio().payments  # type: ignore[union-attr]
    assert payments.epoch(record.chain_epoch)["opens_at"] == record.opens_at  # type: ignore[arg-type]
    with pytest.raises(Exception, match="PaymentsEpochNotOpen"):
        _claim_all(chain, gateway)
    _advance(chain, ChainParams().epoch_challenge_delay_s)
    assert _claim_all(chain, gateway) == dict(record.amounts)


def test_two_gateways_closing_epochs_each_pay_only_their_own_inferers(
    chain: ChainLink, tmp_path
) -> None:  # noqa: ANN001
    first, second = _gateway(chain, 1, tmp_path), _gateway(chain, 6, tmp_path)
    payments = first.chain.helio().payments  # type: ignore[union-attr]
    _earn(chain, first, 10 * HELIO)
    _earn(chain, second, 2 * HELIO)
    pools = {g.desk.payee: payments.pool_of(g.desk.payee) for g in (first, second)}
    assert pools[second.desk.payee] == 14 * HELIO // 10
    first.accounting.record([(INFERERS[0], 1)], tokens=10)
    second.accounting.record([(INFERERS[2], 1)], tokens=10)
    a = close_epoch(first)  # first used to take both pools for its own inferers
    assert a is not None and a.amounts == [(INFERERS[0], pools[first.desk.payee])]
    assert payments.pool_of(second.desk.payee) == pools[second.desk.payee]  # untouched
    b = close_epoch(second)
    assert b is not None and b.amounts == [(INFERERS[2], pools[second.desk.payee])]
    _advance(chain, ChainParams().epoch_challenge_delay_s)
    assert _claim_all(chain, first) == {INFERERS[0]: pools[first.desk.payee]}
    assert _claim_all(chain, second) == {INFERERS[2]: pools[second.desk.payee]}


def test_a_failed_post_loses_no_work(chain: ChainLink, tmp_path) -> None:  # noqa: ANN001
    gateway = _gateway(chain, 7, tmp_path)
    _earn(chain, gateway, 5 * HELIO)
    gateway.accounting.record([(INFERERS[1], 3)], tokens=10)
    # The referee's chain answers nothing for a moment: the post fails, nothing is lost.
    nowhere = "http://127.0.0.1:9"
    gateway.chain = ChainLink(Web3(Web3.HTTPProvider(nowhere)), chain.deployment, nowhere)
    with pytest.raises(Exception):  # noqa: B017 (a connection error, whatever its class)
        close_epoch(gateway)
    assert gateway.accounting.work == {INFERERS[1]: 30} and gateway.accounting.closed == []
    assert gateway.accounting.epoch == 0
    gateway.accounting.record([(INFERERS[1], 1)], tokens=10)  # work goes on meanwhile
    gateway.chain = chain
    record = close_epoch(gateway)
    assert record is not None and record.work == {INFERERS[1]: 40} and record.tx is not None
    assert gateway.accounting.work == {} and gateway.accounting.epoch == 1


def test_a_testnet_deploy_pays_epochs_through_its_deployer_referee(tmp_path) -> None:  # noqa: ANN001
    """The testnet profile on an anvil with Sepolia's chain id and fresh keys (no dev key
    is accepted there): the deployer holds REFEREE_ROLE, the gateway uses it as its
    referee key, and claims open a day after the post."""
    from node.chain.params import GOVERNANCE_PROFILES, DemoModel
    from node.chain.profiles import PROFILES

    sepolia = 11155111
    ensure_compiled()
    with Anvil(chain_id=sepolia) as anvil:
        w3 = connect(anvil.rpc_url, expected_chain_id=sepolia)
        deployer, payee, client, inferer = (Account.create() for _ in range(4))
        for who in (deployer, payee, client):
            w3.provider.make_request("anvil_setBalance", [who.address, hex(10**20)])  # type: ignore[arg-type]
        deployment = deploy_all(w3, deployer.key.hex(), "sepolia", directory=tmp_path, profile=PROFILES["testnet"],
                                genesis=DemoModel(manifest_cid="QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"))  # fmt: skip
        link = ChainLink(w3, deployment, anvil.rpc_url)
        HelioChain(w3, deployment, deployer).token.transfer(client.address, 100 * HELIO)
        settings = GatewaySettings(payee_key=payee.key.hex(), referee_key=deployer.key.hex(),
                                   desk_path=tmp_path / "desk.sqlite")  # fmt: skip
        gateway = build_gateway(settings, {}, link)
        paying = HelioChain(w3, deployment, client).payments
        channel = paying.open_channel(payee.address, 10 * HELIO, int(time.time()) + 86400)
        v = Voucher(
            client.address,
            payee.address,
            channel,
            model_key(DEMO),
            10 * HELIO,
            int(time.time()) + 3600,
        )
        HelioChain(w3, deployment, payee).payments.redeem(v, v.sign(client.key, paying.domain()))
        gateway.accounting.record([(inferer.address, 1)], tokens=10)
        record = close_epoch(gateway)
        assert record is not None and record.amounts == [(inferer.address, 7 * HELIO)]
        assert paying.epoch_rules() == (1, GOVERNANCE_PROFILES["testnet"].epoch_challenge_delay_s)

        def claim() -> None:
            paying.claim(record.chain_epoch, inferer.address, 7 * HELIO, record.proof(inferer.address))  # type: ignore[union-attr, arg-type]

        with pytest.raises(Exception, match="PaymentsEpochNotOpen"):
            claim()
        _advance(link, 24 * 3600)
        claim()
        assert paying.token.balance_of(inferer.address) == 7 * HELIO
