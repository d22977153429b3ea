"""``helio wallet deposit|balance|voucher``: pay a gateway from a Payments channel.

    helio wallet deposit 100 --gateway http://127.0.0.1:8000 --dev-account 2   # opens a channel
    helio wallet balance --dev-account 2
    helio wallet voucher 500 --channel 1 --gateway http://127.0.0.1:8000 --dev-account 2

``voucher`` prints an ``X-Helio-Voucher`` header value for one request of up to 500 tokens
(prompt + max_tokens) on top of what the gateway charged so far (its signed receipt,
checked against the chain); give it to the OpenAI SDK as ``default_headers``
(docs/api.md). The signing key is HELIO_PRIVATE_KEY, or ``--dev-account N`` (anvil's
PUBLIC dev key N, local chain only).
"""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from node.cli.stake import DevAccount, Network, RpcUrl, from_wei, open_chain, to_wei
from node.cli.wallet_funds import faucet, transfer
from node.core.errors import ConfigError

app = typer.Typer(help="Pay a gateway: deposit into a Payments channel, check it, sign vouchers.",
                  no_args_is_help=True)
console = Console()

Gateway = typer.Option(None, "--gateway", help="gateway URL; its GET /v1/payments names the payee")


def _gateway_info(url: str) -> dict[str, object]:
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/v1/payments", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot read {url}/v1/payments ({type(exc).__name__}); is the gateway running?") from None
    info: dict[str, object] = response.json()
    return info


@app.command()
def deposit(
    amount: str = typer.Argument(..., help="HELIO to deposit"),
    gateway: str = Gateway,
    payee: str = typer.Option(None, "--payee", help="the gateway operator's address (instead of --gateway)"),
    hours: float = typer.Option(24.0, "--hours", help="the channel stays redeemable this long"),
    channel: int = typer.Option(None, "--channel", help="top up this channel instead of opening one"),
    network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount,
) -> None:
    """Open a channel toward a gateway (or top one up) with AMOUNT HELIO."""
    if payee is None and gateway is None and channel is None:
        raise ConfigError("give --gateway URL (or --payee ADDRESS) to say whom the channel pays")
    chain = open_chain(network, rpc_url, dev_account)
    wei, expiry = to_wei(amount), int(time.time() + hours * 3600)
    payments = chain.payments
    if channel is not None:
        payments.top_up(channel, wei, expiry)
        console.print(f"channel {channel}: +{amount} HELIO, redeemable until {time.ctime(expiry)}")
        return
    to = payee or str(_gateway_info(gateway)["payee"])
    opened = payments.open_channel(to, wei, expiry)
    console.print(f"opened channel [bold]{opened}[/] toward {to}: {amount} HELIO until {time.ctime(expiry)}")
    print(opened)


@app.command()
def balance(
    channel: int = typer.Option(None, "--channel", help="only this channel"),
    network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount,
) -> None:
    """Token balance and the channels you opened (deposit, redeemed, left, expiry)."""
    chain = open_chain(network, rpc_url, dev_account)
    me = chain.account.address  # type: ignore[union-attr]
    console.print(f"{me}: {from_wei(chain.token.balance_of(me))} HELIO in the wallet")
    payments = chain.payments
    if channel is not None:
        ids = [channel]
    else:
        logs = payments.c.events.ChannelOpened.get_logs(
            argument_filters={"client": me}, from_block=chain.deployment.block_number)
        ids = [int(e.args["channel"]) for e in logs]
    table = Table("channel", "payee", "deposit", "redeemed", "left", "expires")
    for cid in ids:
        c = payments.channel(cid)
        table.add_row(str(cid), c["payee"], from_wei(c["deposit"]), from_wei(c["redeemed"]),
                      from_wei(c["deposit"] - c["redeemed"]), time.ctime(c["expiry"]))
    console.print(table)


@app.command()
def voucher(
    tokens: int = typer.Argument(..., min=1, help="token budget of the request this voucher pays for "
                                 "(prompt + max_tokens), priced by the gateway"),
    channel: int = typer.Option(..., "--channel", help="your channel toward the gateway"),
    gateway: str = typer.Option(..., "--gateway", help="gateway URL (payee, chain, contract, model)"),
    model: str = typer.Option(None, "--model", "-m", help="model the voucher is for (default: the gateway's first)"),
    network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount,
) -> None:
    """Sign the channel's next voucher for a TOKENS-token request; print its X-Helio-Voucher value.

    The voucher covers what the gateway charged so far (its signed receipt, checked against
    your own last voucher and the chain) plus TOKENS × the gateway's price, nothing more."""
    from node.client.vouchers import VoucherWallet

    chain = open_chain(network, rpc_url, dev_account)
    key = chain.account.key.hex()  # type: ignore[union-attr]
    wallet = VoucherWallet.from_gateway(gateway, private_key=key, channel=channel, model_id=model,
                                        channel_reader=chain.payments.channel)
    header = wallet.header(tokens * wallet.price_per_token_wei)
    console.print(f"channel {channel}: up to {from_wei(wallet.floor)} HELIO in all "
                  f"({from_wei(wallet.charged_total)} charged before this {tokens}-token request)")
    print(header)


# Moving HELIO and getting some to stake (node/cli/wallet_funds.py).
app.command()(transfer)
app.command()(faucet)
