"""``helio wallet transfer|faucet``: move HELIO, and get some to stake on a testnet.

    helio wallet faucet                       # one drip from the deployment's Faucet to you
    helio wallet transfer 0xAbc… 250          # send 250 HELIO (decimals allowed)

The signing key is HELIO_PRIVATE_KEY (or ``private_key`` in the settings), or
``--dev-account N`` on the local chain. Both check before sending (the balance, the
faucet's cooldown), and a refusal by a contract is said as a sentence with its remedy.
"""

from __future__ import annotations

import typer
from rich.console import Console

from node.cli.chain_access import open_chain
from node.cli.stake import DevAccount, Network, RpcUrl, to_wei
from node.core.errors import ConfigError

console = Console()


def transfer(
    to: str = typer.Argument(..., help="the receiving address (0x…)"),
    amount: str = typer.Argument(..., help="HELIO to send (decimals allowed)"),
    network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount,
) -> None:
    """Send AMOUNT HELIO from your wallet to TO."""
    from web3 import Web3

    from node.chain.reverts import helio

    if not Web3.is_address(to):
        raise ConfigError(f"{to!r} is not an address (0x followed by 40 hex digits)")
    receiver = Web3.to_checksum_address(to)
    wei = to_wei(amount)
    chain = open_chain(network, rpc_url, dev_account)
    me = chain.account.address  # type: ignore[union-attr]
    have = chain.token.balance_of(me)
    if have < wei:
        raise ConfigError(f"{me} holds {helio(have)}, less than the {helio(wei)} to send")
    receipt = chain.token.transfer(receiver, wei)
    console.print(f"[green]sent[/] {helio(wei)} to {receiver} (tx 0x{bytes(receipt['transactionHash']).hex()}); "
                  f"you hold {helio(chain.token.balance_of(me))}, they hold {helio(chain.token.balance_of(receiver))}")


def faucet(
    to: str = typer.Option(None, "--to", help="address to fund (default: your own)"),
    network: str = Network, rpc_url: str = RpcUrl, dev_account: int = DevAccount,
) -> None:
    """Draw HELIO from the deployment's faucet (rate-limited; enough to stake)."""
    from web3 import Web3

    from node.chain.devkeys import ANVIL_CHAIN_ID
    from node.chain.faucet import Faucet
    from node.chain.reverts import helio, when

    chain = open_chain(network, rpc_url, dev_account)
    me = chain.account.address  # type: ignore[union-attr]
    if to is not None and not Web3.is_address(to):
        raise ConfigError(f"--to {to!r} is not an address (0x followed by 40 hex digits)")
    receiver = Web3.to_checksum_address(to) if to else me
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    if "Faucet" not in chain.deployment.contracts:
        if chain.deployment.chain_id == ANVIL_CHAIN_ID:  # an older local deployment
            chain.token.faucet(receiver)
            console.print(f"[green]faucet[/] (the token's, local chain): {receiver} holds "
                          f"{helio(chain.token.balance_of(receiver))}")
            return
        raise ConfigError(f"the {chain.deployment.network} deployment has no Faucet: ask its "
                          "deployer or a holder for a `helio wallet transfer`")
    tap = Faucet.of(chain)
    ready = tap.ready_at(receiver)
    if ready > now:
        raise ConfigError(f"{receiver} drew from the faucet recently: next drip {when(ready, now)}")
    terms = tap.terms()
    if terms.balance < terms.drip:
        raise ConfigError(f"the faucet holds {helio(terms.balance)}, less than one drip "
                          f"({helio(terms.drip)}): ask the deployer to refill it")
    tap.drip(receiver)
    console.print(f"[green]faucet[/]: {helio(terms.drip)} to {receiver}; it holds "
                  f"{helio(chain.token.balance_of(receiver))}; next drip "
                  f"{when(tap.ready_at(receiver), now)}")
