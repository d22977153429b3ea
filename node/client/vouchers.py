"""Paying a gateway: sign EIP-712 cumulative vouchers and carry them in one HTTP header.

A channel is a deposit in the Payments contract toward one payee (a gateway operator).
Each paid request carries a voucher whose ``cumulativeAmount`` covers everything charged
on the channel so far plus this request's worst case (input tokens + ``max_tokens`` at the
published price); the gateway charges the actual tokens and answers the new total in
``X-Helio-Charged-Total``. ``VoucherWallet.auth()`` does that bookkeeping per request
for an ``httpx`` client, so the official ``openai`` SDK pays with a few lines::

    info = httpx.get(f"{base}/v1/payments").json()
    wallet = VoucherWallet.from_gateway_info(info, private_key=key, channel=channel_id)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused",
                           http_client=httpx.Client(auth=wallet.auth()))

or, for one request, ``default_headers={VOUCHER_HEADER: wallet.header(amount)}``.
The header value is base64url(JSON) of the voucher fields, the domain's chain id and
contract, and the signature (docs/api.md).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from node.core.errors import ConfigError
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain, Voucher, model_key

VOUCHER_HEADER = "X-Helio-Voucher"
CONTRIBUTOR_HEADER = "X-Helio-Contributor"
CHARGED_HEADER = "X-Helio-Charged-Total"
PROMPT_OVERHEAD_TOKENS = 64  # chat template tokens around the messages (upper bound)


class VoucherFormatError(ConfigError):
    """An ``X-Helio-Voucher`` header value that does not decode to a voucher."""


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
            signature = bytes.fromhex(str(body["signature"]).removeprefix("0x"))
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
        if len(signature) != 65:
            raise VoucherFormatError(f"{VOUCHER_HEADER}: the signature must be 65 bytes")
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
    charged_total: int = 0  # what the gateway says it has charged on the channel
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
        """A voucher adding ``amount_wei`` to what is charged so far, header-encoded."""
        return self.sign(self.charged_total + amount_wei, model_id).encode()

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
                self.wallet.charged_total = max(self.wallet.charged_total, int(charged))


def contributor_message(address: str, expiry: int) -> str:
    return f"Heliomesh contributor {address} until {expiry}"


def contributor_header(private_key: str, validity_s: int = 3600) -> str:
    """``X-Helio-Contributor``: a staked inferer proves its address for higher free limits."""
    account = Account.from_key(private_key)
    expiry = int(time.time()) + validity_s
    signed = account.sign_message(encode_defunct(text=contributor_message(account.address, expiry)))
    return f"{account.address}.{expiry}.0x{bytes(signed.signature).hex()}"


def recover_contributor(header: str, now: float | None = None) -> str:
    """The address a contributor header proves, or ``ConfigError`` saying why not."""
    try:
        address, expiry_s, signature = header.strip().split(".")
        expiry = int(expiry_s)
        signer = Account.recover_message(
            encode_defunct(text=contributor_message(address, expiry)), signature=signature
        )
    except Exception as exc:  # noqa: BLE001 (any decoding failure is the same answer)
        raise ConfigError(
            f"{CONTRIBUTOR_HEADER} must be '<address>.<expiry>.<signature>' made by "
            f"node.client.vouchers.contributor_header ({type(exc).__name__})"
        ) from None
    if signer.lower() != address.lower():
        raise ConfigError(f"{CONTRIBUTOR_HEADER} is not signed by {address}")
    if expiry < (now or time.time()):
        raise ConfigError(f"{CONTRIBUTOR_HEADER} expired; sign a new one")
    return str(signer)
