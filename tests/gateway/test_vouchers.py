"""Paid requests through real HTTP with real signatures: every refused voucher is refused
before any inference (no token generated), the accepted ones are charged the actual
tokens, and the latest vouchers are redeemed in one batch."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from gwkit import CLIENT, MODEL, OTHER, QUESTION
from paykit import damaged_signatures

from gateway.app import create_app
from gateway.server import GatewayServer
from gateway.settings import GatewaySettings
from gateway.state import build_gateway
from node.client.vouchers import CHARGED_HEADER, VOUCHER_HEADER, OverchargedError, VoucherWallet
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain

pytestmark = [pytest.mark.model, pytest.mark.slow]

PRICE = 10**12
DEPOSIT = 10**18


def _wallet(gw, key: str = CLIENT.private_key, deposit: int = DEPOSIT, **overrides) -> VoucherWallet:
    info = httpx.get(f"{gw.url}/v1/payments").json()
    channels = gw.gateway.memory_channels
    channel = channels.open(CLIENT.address, info["payee"], deposit, int(time.time()) + 3600)
    wallet = VoucherWallet.from_gateway_info(info, private_key=key, channel=channel)
    for name, value in overrides.items():
        setattr(wallet, name, value)
    return wallet


def _post(gw, header: str, max_tokens: int = 2) -> httpx.Response:
    body = {"model": MODEL, "messages": QUESTION, "max_tokens": max_tokens, "temperature": 0}
    return httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers={VOUCHER_HEADER: header}, timeout=120)


def _refused(gw, response: httpx.Response, code: str) -> None:
    assert response.status_code in (400, 402), response.text
    error = response.json()["error"]
    assert error["code"] == code and error["param"] == VOUCHER_HEADER
    assert gw.gateway.generator.tokens_generated == 0, "a refused voucher must not start inference"


def test_valid_voucher_is_charged_the_actual_tokens(gw) -> None:
    wallet = _wallet(gw)
    r = _post(gw, wallet.header(10_000 * PRICE))
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    assert int(r.headers[CHARGED_HEADER]) == usage["total_tokens"] * PRICE
    assert int(r.headers["X-Helio-Request-Cost"]) == usage["total_tokens"] * PRICE


def test_voucher_replayed_is_refused(gw) -> None:
    wallet = _wallet(gw)
    header = wallet.header(10_000 * PRICE)
    assert _post(gw, header).status_code == 200
    before = gw.gateway.generator.tokens_generated
    r = _post(gw, header)
    assert r.status_code == 402 and r.json()["error"]["code"] == "voucher_replayed"
    assert gw.gateway.generator.tokens_generated == before


def test_voucher_not_above_the_last_is_refused(gw) -> None:
    wallet = _wallet(gw)
    assert _post(gw, wallet.sign(10_000 * PRICE).encode()).status_code == 200
    wallet.validity_s += 1  # a different voucher (new expiry) with the same amount
    r = _post(gw, wallet.sign(10_000 * PRICE).encode())
    assert r.status_code == 402 and r.json()["error"]["code"] == "voucher_not_increasing"


def test_voucher_over_the_deposit_is_refused(gw) -> None:
    wallet = _wallet(gw, deposit=1000 * PRICE)
    _refused(gw, _post(gw, wallet.header(1001 * PRICE)), "insufficient_deposit")


def test_voucher_signed_by_someone_else_is_refused(gw) -> None:
    wallet = _wallet(gw)
    forged = wallet.sign(10_000 * PRICE)
    other = VoucherWallet(OTHER.private_key, wallet.domain, wallet.payee, wallet.channel, MODEL, PRICE)
    signature = other.sign(10_000 * PRICE).signature
    bad = type(forged)(forged.voucher, signature, forged.chain_id, forged.verifying_contract)
    _refused(gw, _post(gw, bad.encode()), "bad_signature")


def test_voucher_for_another_chain_is_refused(gw) -> None:
    wallet = _wallet(gw)
    wallet.domain = Domain(PAYMENTS_DOMAIN_NAME, 1, wallet.domain.verifying_contract)
    _refused(gw, _post(gw, wallet.header(10_000 * PRICE)), "wrong_chain")


def test_voucher_too_small_for_the_worst_case_is_refused(gw) -> None:
    wallet = _wallet(gw)
    r = _post(gw, wallet.header(10 * PRICE), max_tokens=8)
    _refused(gw, r, "voucher_too_small")
    assert "cumulativeAmount ≥" in r.json()["error"]["message"]


def test_voucher_for_another_model_payee_or_channel_is_refused(gw) -> None:
    wallet = _wallet(gw)
    _refused(gw, _post(gw, wallet.sign(10_000 * PRICE, "gemma3-270m").encode()), "wrong_model")
    wallet.payee = OTHER.address
    _refused(gw, _post(gw, wallet.header(10_000 * PRICE)), "wrong_payee")
    wallet = _wallet(gw)
    wallet.channel = 999
    _refused(gw, _post(gw, wallet.header(10_000 * PRICE)), "unknown_channel")


def test_expired_or_garbled_voucher_is_refused(gw) -> None:
    wallet = _wallet(gw, validity_s=10)  # below the gateway's 60 s minimum
    _refused(gw, _post(gw, wallet.header(10_000 * PRICE)), "voucher_expired")
    _refused(gw, _post(gw, "not-a-voucher"), "invalid_voucher")


def test_openai_sdk_pays_per_request_and_vouchers_are_redeemed_in_a_batch(gw) -> None:
    wallet = _wallet(gw)
    client = gw.openai(http_client=httpx.Client(auth=wallet.auth(), timeout=120))
    total = 0
    for _ in range(3):
        reply = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2, temperature=0)
        total += reply.usage.total_tokens * PRICE
    assert wallet.charged_total == total
    # streamed: the header carries an upper bound (charged + this request's worst case)
    chunks = list(client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2, stream=True))
    assert chunks and wallet.charged_total > total
    # a streamed request, then the next voucher (built on the streamed upper bound) is accepted
    assert client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2).choices
    assert gw.gateway.redeem_loop.redeem_now() == 1  # one channel → one voucher in the batch
    channel = gw.gateway.memory_channels.channel(wallet.channel)
    account = gw.gateway.desk.accounts[wallet.channel]
    assert channel.redeemed == account.charged < account.accepted  # what was charged, not the bound
    assert gw.gateway.redeem_loop.redeem_now() == 0  # nothing new


def test_one_shot_voucher_via_default_headers(gw) -> None:
    wallet = _wallet(gw)
    client = gw.openai(default_headers={VOUCHER_HEADER: wallet.header(10_000 * PRICE)})
    assert client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2).choices
    with pytest.raises(openai.APIStatusError) as err:  # the same header again: a replay
        client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2)
    assert err.value.status_code == 402 and err.value.body["code"] == "voucher_replayed"


def test_a_redemption_the_chain_forgot_is_redeemed_again(gw) -> None:
    """A chain restarted from an older state (anvil after kill -9, a reorg) forgets a mined
    redemption; the next round sees the chain's amount below the desk's and redeems the
    latest voucher again. The forgetting is done here on the gateway's off-chain channels
    (the real anvil case runs in tests/chaos/test_chaos_faults.py)."""
    wallet = _wallet(gw)
    assert _post(gw, wallet.header(10_000 * PRICE)).status_code == 200
    loop, channels = gw.gateway.redeem_loop, gw.gateway.memory_channels
    assert loop.redeem_now() == 1
    charged = gw.gateway.desk.accounts[wallet.channel].charged
    channels.redeemed(wallet.channel, 0)  # the chain lost the redemption
    assert loop.redeem_now() == 1
    assert channels.channel(wallet.channel).redeemed == charged
    assert loop.redeem_now() == 0  # and only once


def test_damaged_signatures_of_every_kind_are_402_never_500(gw) -> None:
    """Attack: a `v` byte eth_account rejects, a flipped byte of `r`, all zeros, high `s`,
    wrong length, non-hex. Each is a 402 ``bad_signature`` that says what is wrong."""
    wallet = _wallet(gw)
    for name, damaged in damaged_signatures(wallet.sign(10_000 * PRICE)).items():
        header = damaged if isinstance(damaged, str) else damaged.encode()
        r = _post(gw, header)
        assert r.status_code == 402, (name, r.status_code, r.text)
        error = r.json()["error"]
        assert error["code"] == "bad_signature" and "signature" in error["message"], (name, error)
    assert gw.gateway.generator.tokens_generated == 0


def test_wallet_refuses_a_gateway_that_over_reports_the_charged_total(served) -> None:
    """Attack: a malicious gateway answers an X-Helio-Charged-Total above what was spent, so
    the next voucher would sign away the deposit. The wallet caps it by its own bound."""
    gateway = build_gateway(GatewaySettings(), {MODEL: served})
    app = create_app(gateway)

    @app.middleware("http")
    async def over_report(request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        if CHARGED_HEADER in response.headers:
            response.headers[CHARGED_HEADER] = str(int(response.headers[CHARGED_HEADER]) + DEPOSIT // 2)
        return response

    with GatewayServer(app) as server:
        info = httpx.get(f"{server.url}/v1/payments").json()
        channel = gateway.memory_channels.open(CLIENT.address, info["payee"], DEPOSIT, int(time.time()) + 3600)
        wallet = VoucherWallet.from_gateway_info(info, private_key=CLIENT.private_key, channel=channel)
        http = httpx.Client(auth=wallet.auth(), timeout=120)
        body = {"model": MODEL, "messages": QUESTION, "max_tokens": 2}
        with pytest.raises(OverchargedError, match="over-reports"):
            http.post(f"{server.url}/v1/chat/completions", json=body)
        with pytest.raises(OverchargedError):  # and it signs nothing more for this gateway
            http.post(f"{server.url}/v1/chat/completions", json=body)
        assert wallet.floor < DEPOSIT // 100  # the only voucher signed covers one small request


def test_a_wallet_in_a_new_process_resumes_from_the_gateway_receipt(gw) -> None:
    """The documented wallet used to work once per channel: a new process started again
    from 0 and got 402 voucher_not_increasing. It now resumes from the payee's signed
    receipt (GET /v1/payments/channels/{id}), checked against its own signature."""
    first = _wallet(gw)
    client = gw.openai(http_client=httpx.Client(auth=first.auth(), timeout=120))
    assert client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2).choices
    assert httpx.get(f"{gw.url}/v1/payments/channels/424242").status_code == 404
    second = VoucherWallet.from_gateway(gw.url, private_key=CLIENT.private_key, channel=first.channel)
    assert second.charged_total == first.charged_total and second.floor == first.floor
    client = gw.openai(http_client=httpx.Client(auth=second.auth(), timeout=120))
    assert client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2).choices
    stranger = VoucherWallet.from_gateway_info(httpx.get(f"{gw.url}/v1/payments").json(),
                                               private_key=OTHER.private_key, channel=first.channel)
    from node.client.receipts import ChannelReceipt, ReceiptError

    receipt = ChannelReceipt.from_json(httpx.get(f"{gw.url}/v1/payments/channels/{first.channel}").json())
    with pytest.raises(ReceiptError, match="not"):  # another key's wallet cannot take it over
        stranger.resume(receipt)
    forged = ChannelReceipt(**{**receipt.__dict__, "charged": receipt.accepted, "signature": ""}).signed_by(
        OTHER.private_key)  # a receipt inflated and signed by someone else
    with pytest.raises(ReceiptError, match="signed by"):
        second.resume(forged)
