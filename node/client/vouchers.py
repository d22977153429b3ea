"""Paying a gateway: sign EIP-712 cumulative vouchers and carry them in one HTTP header.

A channel is a deposit in the Payments contract toward one payee (a gateway operator).
Each paid request carries a voucher whose ``cumulativeAmount`` covers everything charged
on the channel so far plus this request's worst case (input tokens + ``max_tokens`` at the
published price); the gateway charges the actual tokens, answers the new total in
``X-Helio-Charged-Total`` and redeems only that total. ``VoucherWallet`` never signs more
than it can owe (its own worst cases; a gateway reporting more is refused) and resumes a
channel from the gateway's signed receipt (node/client/receipts.py), so the official
``openai`` SDK pays with a few lines, from any number of processes::

    wallet = VoucherWallet.from_gateway(base, private_key=key, channel=channel_id, rpc_url=rpc)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused",
                           http_client=httpx.Client(auth=wallet.auth()))

or, for one request, ``default_headers={VOUCHER_HEADER: wallet.header(worst_case_wei)}``.
The header value is base64url(JSON) of the voucher fields, the domain's chain id and
contract, and the signature (docs/api.md).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account

from node.client.receipts import ChannelReceipt, ReceiptError
from node.core.errors import ConfigError
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain, Voucher, model_key

VOUCHER_HEADER = "X-Helio-Voucher"
CHARGED_HEADER = "X-Helio-Charged-Total"
PROMPT_OVERHEAD_TOKENS = 64  # chat template tokens around the messages (upper bound)


class OverchargedError(ConfigError):
    """The gateway reported a charged total above what this wallet's requests can cost."""


def _chain_channel(rpc_url: str, info: dict[str, Any], channel: int) -> dict[str, Any]:
    """``Payments.channelOf(channel)`` read from ``rpc_url`` (the chain the gateway names)."""
    from node.chain.artifacts import load_artifact
    from node.chain.bindings import Payments
    from node.chain.connect import connect

    w3 = connect(rpc_url, expected_chain_id=int(info["chain_id"]))
    contract = w3.eth.contract(address=info["payments_contract"], abi=load_artifact("Payments").abi)
    return Payments(w3, contract).channel(channel)


class VoucherFormatError(ConfigError):
    """An ``X-Helio-Voucher`` header value that does not decode to a voucher."""


class VoucherSignatureError(VoucherFormatError):
    """A voucher whose signature field is not 65 bytes of hex (the gateway's 402 ``bad_signature``)."""


@dataclass(frozen=True)
class SignedVoucher:
    voucher: Voucher
    signature: bytes
    chain_id: int
    verifying_contract: str

    @property
    def domain(self) -> Domain:
        return Domain(PAYMENTS_DOMAIN_NAME, self.chain_id, self.verifying_contract)

    def encode(self) -> str:
        v = self.voucher
        body = {
            "client": v.client,
            "payee": v.payee,
            "channel": str(v.channel),
            "modelId": "0x" + v.model_id.hex(),
            "cumulativeAmount": str(v.cumulative_amount),
            "expiry": v.expiry,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
            "signature": "0x" + self.signature.hex(),
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, header: str) -> SignedVoucher:
        try:
            raw = base64.urlsafe_b64decode(header.strip() + "=" * (-len(header.strip()) % 4))
            body = json.loads(raw)
            signature_hex = str(body["signature"]).removeprefix("0x")
            voucher = Voucher(
                client=body["client"],
                payee=body["payee"],
                channel=int(body["channel"]),
                model_id=body["modelId"],
                cumulative_amount=int(body["cumulativeAmount"]),
                expiry=int(body["expiry"]),
            )
            chain_id = int(body["chainId"])
            contract = str(body["verifyingContract"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise VoucherFormatError(
                f"{VOUCHER_HEADER} is not a valid voucher ({exc}); build it with "
                "node.client.vouchers.VoucherWallet"
            ) from None
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            raise VoucherSignatureError(
                f"{VOUCHER_HEADER}: the signature is not hex; sign the voucher again") from None
        if len(signature) != 65:
            raise VoucherSignatureError(
                f"{VOUCHER_HEADER}: the signature is {len(signature)} bytes, not 65 (r || s || v)")
        return cls(voucher, signature, chain_id, contract)


def worst_case_tokens(body: dict[str, Any], default_max_tokens: int) -> int:
    """An upper bound of the tokens a chat/completions request body can be charged for:
    each byte-level BPE token covers at least one UTF-8 byte of the prompt."""
    if "messages" in body:
        text = "".join(str(m.get("content") or "") + str(m.get("role", "")) for m in body["messages"])
    else:
        prompt = body.get("prompt", "")
        text = prompt if isinstance(prompt, str) else "".join(map(str, prompt))
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    return len(text.encode()) + PROMPT_OVERHEAD_TOKENS + int(max_tokens)


@dataclass
class VoucherWallet:
    """Signs increasing cumulative vouchers for one channel toward one gateway."""

    private_key: str
    domain: Domain
    payee: str
    channel: int
    model_id: str
    price_per_token_wei: int
    default_max_tokens: int = 128
    validity_s: int = 3600
    charged_total: int = 0  # what the gateway says it has charged on the channel (≤ owed_bound)
    # The most this wallet can owe: where it resumed from + every request's worst case.
    # A gateway reporting more is refused; no voucher is ever signed above it.
    owed_bound: int = 0
    floor: int = 0  # the last cumulativeAmount signed: the next one must be above it
    refused: str | None = None  # set once the gateway over-reported; no more vouchers
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def address(self) -> str:
        return str(Account.from_key(self.private_key).address)

    @classmethod
    def from_gateway_info(
        cls, info: dict[str, Any], *, private_key: str, channel: int, model_id: str | None = None
    ) -> VoucherWallet:
        """From ``GET /v1/payments`` of the gateway to pay."""
        domain = Domain(PAYMENTS_DOMAIN_NAME, int(info["chain_id"]), info["payments_contract"])
        return cls(
            private_key=private_key,
            domain=domain,
            payee=info["payee"],
            channel=channel,
            model_id=model_id or info["models"][0],
            price_per_token_wei=int(info["price_per_token_wei"]),
            default_max_tokens=int(info.get("default_max_tokens", 128)),
        )

    def sign(self, cumulative_amount: int, model_id: str | None = None) -> SignedVoucher:
        voucher = Voucher(
            client=self.address,
            payee=self.payee,
            channel=self.channel,
            model_id=model_key(model_id or self.model_id),
            cumulative_amount=cumulative_amount,
            expiry=int(time.time()) + self.validity_s,
        )
        return SignedVoucher(
            voucher,
            voucher.sign(self.private_key, self.domain),
            self.domain.chain_id,
            self.domain.verifying_contract,
        )

    def header(self, amount_wei: int, model_id: str | None = None) -> str:
        """A voucher for one request whose worst case is ``amount_wei``: what is charged so
        far plus that (and above the last voucher signed), header-encoded."""
        if self.refused:
            raise OverchargedError(self.refused)
        self.owed_bound = max(self.owed_bound, self.charged_total) + amount_wei
        cumulative = max(self.charged_total + amount_wei, self.floor + 1)
        assert cumulative <= self.owed_bound  # the floor is within the bound before this request
        self.floor = cumulative
        return self.sign(cumulative, model_id).encode()

    def charged(self, reported: int) -> None:
        """The gateway's ``X-Helio-Charged-Total``; ``OverchargedError`` if it is more than
        this wallet's requests can cost (the wallet then signs nothing more)."""
        if reported > self.owed_bound:
            self.refused = (
                f"the gateway {self.payee} reports {reported} wei charged on channel {self.channel}, "
                f"but this wallet's requests can cost at most {self.owed_bound} wei (their worst "
                "cases at the published price): it over-reports; stop paying it. It can redeem no "
                f"more than the last voucher signed ({self.floor} wei)")
            raise OverchargedError(self.refused)
        self.charged_total = max(self.charged_total, reported)

    def resume(self, receipt: ChannelReceipt, on_chain: dict[str, Any] | None = None) -> None:
        """Continue a channel another process paid from: the gateway's signed receipt of its
        books, checked (``ReceiptError``) against this wallet's own signature and, given
        ``on_chain`` (``Payments.channel``), the chain."""
        receipt.check(self.payee, self.channel, self.domain)
        if receipt.voucher is not None:
            try:
                signed = SignedVoucher.decode(receipt.voucher)
                signer = signed.voucher.recover(signed.signature, self.domain)
            except (VoucherFormatError, ValueError) as exc:
                raise ReceiptError(f"the receipt's voucher does not decode ({exc})") from None
            v = signed.voucher
            if signer != self.address or v.client != self.address or v.channel != self.channel:
                raise ReceiptError(f"the receipt's voucher is not {self.address}'s for channel {self.channel}")
            if v.cumulative_amount != receipt.accepted:
                raise ReceiptError(f"the receipt says accepted {receipt.accepted} but its voucher is "
                                   f"for {v.cumulative_amount}")
        if on_chain is not None:
            receipt.check_chain(on_chain, self.address)
        base = receipt.charged + receipt.reserved  # running requests keep their reservation
        self.charged_total = max(self.charged_total, base)
        # The last voucher (this key's own signature) already bounds what can be redeemed.
        self.floor = max(self.floor, receipt.accepted)
        self.owed_bound = max(self.owed_bound, self.charged_total, self.floor)

    @classmethod
    def from_gateway(cls, base_url: str, *, private_key: str, channel: int, model_id: str | None = None,
                     rpc_url: str | None = None, timeout: float = 30.0,
                     channel_reader: Callable[[int], dict[str, Any]] | None = None) -> VoucherWallet:
        """A wallet for ``channel`` toward the gateway at ``base_url``, resumed from its
        receipt (a new process continues where the last one stopped); with ``rpc_url`` (or
        ``channel_reader``, e.g. ``Payments.channel``) the receipt is also checked against
        the chain."""
        base_url = base_url.rstrip("/")
        with httpx.Client(timeout=timeout) as http:
            info = http.get(f"{base_url}/v1/payments").raise_for_status().json()
            wallet = cls.from_gateway_info(info, private_key=private_key, channel=channel, model_id=model_id)
            r = http.get(f"{base_url}/v1/payments/channels/{channel}")
        on_chain = None
        if info.get("on_chain") and (channel_reader or rpc_url):
            on_chain = channel_reader(channel) if channel_reader else _chain_channel(str(rpc_url), info, channel)
        if r.status_code == 404:  # the gateway never saw this channel: start after the chain
            if on_chain is not None:
                wallet.charged_total = wallet.owed_bound = wallet.floor = int(on_chain["redeemed"])
            return wallet
        wallet.resume(ChannelReceipt.from_json(r.raise_for_status().json()), on_chain)
        return wallet

    def header_for(self, body: dict[str, Any]) -> str:
        tokens = worst_case_tokens(body, self.default_max_tokens)
        return self.header(tokens * self.price_per_token_wei, body.get("model"))

    def auth(self) -> VoucherAuth:
        return VoucherAuth(self)


class VoucherAuth(httpx.Auth):
    """Adds a fresh voucher to every JSON POST and reads back the charged total."""

    requires_request_body = True
    requires_response_body = False

    def __init__(self, wallet: VoucherWallet) -> None:
        self.wallet = wallet

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.method == "POST" and request.content:
            with self.wallet._lock:
                body = json.loads(request.content)
                request.headers[VOUCHER_HEADER] = self.wallet.header_for(body)
        response = yield request
        charged = response.headers.get(CHARGED_HEADER)
        if charged is not None:
            with self.wallet._lock:
                self.wallet.charged(int(charged))
