"""Payment numbers (docs/benchmarks.md, "Payments (issue #14)"):

- desk write latency: what the durable desk adds to a paid request (the accept and the
  settle transactions), p50/p99, file vs in-memory; and the whole desk (signature
  recovery, checks and writes) per request;
- restart recovery: opening a desk file with ``channels`` channels and reading it back;
- redemption on anvil: ``n`` channels, each voucher simulated (``eth_call``) then the good
  ones in one ``redeemBatch``: vouchers/s and gas per voucher with 0 % and 10 % bad.

    python -m gateway.payments.bench            # needs anvil and compiled contracts
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from gateway.payments.channels import MemoryChannels
from gateway.payments.desk import PaymentDesk
from gateway.payments.store import MEMORY, DeskStore
from node.chain.bindings import HelioChain
from node.client.vouchers import VoucherWallet
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain

MODEL = "smollm2-135m-instruct"
OFFCHAIN = "0x" + "11" * 20


def desk_latency(path: str, requests: int = 2000) -> dict[str, float]:
    """Milliseconds the desk spends per paid request (admit + settle), p50 and p99."""
    client, payee = Account.create(), Account.create()
    channels = MemoryChannels()
    domain = Domain(PAYMENTS_DOMAIN_NAME, 31337, OFFCHAIN)
    channel = channels.open(client.address, payee.address, 10**30, int(time.time()) + 3600)
    desk = PaymentDesk(domain, payee.address, channels, 1, store=DeskStore(path))
    wallet = VoucherWallet(client.key.hex(), domain, payee.address, channel, MODEL, 1)
    signed = [wallet.sign(100 * (i + 1)) for i in range(requests)]  # signing is the client's time
    info = channels.channel(channel)
    times = []
    for s in signed:
        start = time.perf_counter()
        desk.admit(s, info, MODEL, 100).settle(100)
        times.append((time.perf_counter() - start) * 1000)
    desk.store.close()
    return {"p50_ms": statistics.median(times), "p99_ms": statistics.quantiles(times, n=100)[98]}


def store_latency(path: str, requests: int = 2000) -> dict[str, float]:
    """Milliseconds of the desk's own writes per paid request (the accept and the settle
    transactions), p50 and p99: what durability adds to a request."""
    store = DeskStore(path)
    times = []
    for i in range(requests):
        start = time.perf_counter()
        ticket = store.accept(1, 1000 + i, 10 + i, 0, "x" * 600, 100)
        store.settle(ticket, 1, 11 + i)
        times.append((time.perf_counter() - start) * 1000)
    store.close()
    return {"p50_ms": statistics.median(times), "p99_ms": statistics.quantiles(times, n=100)[98]}


def recovery(path: str, channels_n: int = 1000) -> dict[str, float]:
    """Seconds to open a desk file holding ``channels_n`` channels (one request each)."""
    client, payee = Account.create(), Account.create()
    channels = MemoryChannels()
    domain = Domain(PAYMENTS_DOMAIN_NAME, 31337, OFFCHAIN)
    desk = PaymentDesk(domain, payee.address, channels, 1, store=DeskStore(path))
    for _ in range(channels_n):
        ch = channels.open(client.address, payee.address, 10**30, int(time.time()) + 3600)
        wallet = VoucherWallet(client.key.hex(), domain, payee.address, ch, MODEL, 1)
        desk.admit(wallet.sign(1000), channels.channel(ch), MODEL, 100).settle(60)
    desk.store.close()
    start = time.perf_counter()
    again = PaymentDesk(domain, payee.address, channels, 1, store=DeskStore(path))
    elapsed = time.perf_counter() - start
    assert len(again.accounts) == channels_n
    again.store.close()
    return {"channels": channels_n, "recovery_s": elapsed}


@dataclass
class RedeemRig:
    """A payee's in-process desk and redeem loop on a deployed chain, and a client that
    opens channels toward it."""

    payee_chain: HelioChain
    client_chain: HelioChain
    client_key: str
    desk: PaymentDesk

    @classmethod
    def create(cls, w3: Any, deployment: Any, payee_key: str, client_key: str, store: DeskStore) -> RedeemRig:
        from gateway.payments.chain import ChainChannels

        payee = HelioChain(w3, deployment, Account.from_key(payee_key))
        client = HelioChain(w3, deployment, Account.from_key(client_key))
        desk = PaymentDesk(payee.payments.domain(), payee.account.address,  # type: ignore[union-attr]
                           ChainChannels(payee.payments), 1, store=store)
        return cls(payee, client, client_key, desk)

    def paid_channels(self, n: int, voucher: int = 1000, charged: int = 600) -> list[VoucherWallet]:
        """``n`` channels, each with one accepted voucher of ``voucher`` and ``charged`` charged."""
        wallets = []
        payee = self.desk.payee
        for _ in range(n):
            ch = self.client_chain.payments.open_channel(payee, 10**18, int(time.time()) + 7200)
            wallet = VoucherWallet(self.client_key, self.desk.domain, payee, ch, MODEL, 1)
            ticket = self.desk.admit(wallet.sign(voucher), self.desk.channels.channel(ch), MODEL, voucher)
            ticket.settle(charged)
            wallets.append(wallet)
        return wallets

    def redeem_elsewhere(self, wallet: VoucherWallet, amount: int) -> None:
        """Another process of the same payee redeems ``amount`` on this channel first."""
        signed = wallet.sign(amount)
        self.payee_chain.payments.redeem(signed.voucher, signed.signature)


def redeem_throughput(w3: Any, deployment: Any, payee_key: str, client_key: str, n: int = 50,
                      bad_share: float = 0.0) -> dict[str, float]:
    from gateway.payments.chain import ChainRedeemer
    from gateway.payments.redeem import RedeemLoop

    rig = RedeemRig.create(w3, deployment, payee_key, client_key, DeskStore(MEMORY))
    wallets = rig.paid_channels(n)
    bad = wallets[: round(n * bad_share)]
    for wallet in bad:
        rig.redeem_elsewhere(wallet, 1000)
    loop = RedeemLoop(rig.desk, ChainRedeemer(rig.payee_chain.payments), 60)
    start = time.perf_counter()
    redeemed = loop.redeem_now()
    elapsed = time.perf_counter() - start
    assert redeemed == n - len(bad) and len(loop.set_aside) == len(bad)
    gas = int(w3.eth.get_transaction_receipt(loop.last_tx)["gasUsed"])
    return {"vouchers": n, "bad": len(bad), "redeemed": redeemed, "seconds": elapsed,
            "vouchers_per_s": redeemed / elapsed, "gas_per_voucher": gas / redeemed}


def main() -> None:
    from node.chain import Anvil, connect, deploy_all, ensure_compiled
    from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS

    with tempfile.TemporaryDirectory() as tmp:
        print("desk writes, file (WAL):", store_latency(str(Path(tmp) / "s.sqlite")))
        print("desk writes, memory:    ", store_latency(MEMORY))
        print("whole desk, file (WAL): ", desk_latency(str(Path(tmp) / "a.sqlite")))
        print("whole desk, memory:     ", desk_latency(MEMORY))
        print("restart recovery:       ", recovery(str(Path(tmp) / "b.sqlite")))
        ensure_compiled()
        with Anvil() as anvil:
            w3 = connect(anvil.rpc_url, expected_chain_id=ANVIL_CHAIN_ID)
            deployment = deploy_all(w3, DEV_ACCOUNTS[0].private_key, "bench", directory=Path(tmp))
            for share in (0.0, 0.1):
                print(f"redeem, {share:.0%} bad:        ", redeem_throughput(
                    w3, deployment, DEV_ACCOUNTS[1].private_key, DEV_ACCOUNTS[2].private_key, 50, share))


if __name__ == "__main__":
    main()
