"""``Gateway``: everything one gateway process holds, built once and handed to the app."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from gateway.chain_link import CACHE_S, ChainLink, ModelCatalog
from gateway.generator import Generator
from gateway.metrics import Metrics, live_families
from gateway.payments.chain import ChainChannels, ChainRedeemer
from gateway.payments.channels import ChannelSource, MemoryChannels
from gateway.payments.desk import PaymentDesk
from gateway.payments.redeem import MemoryRedeemer, Redeemer, RedeemLoop
from gateway.payments.store import MEMORY, DeskStore, default_desk_path
from gateway.ratelimit import FreeTier
from gateway.served_model import ServedModel
from gateway.settings import GatewaySettings
from node.chain.devkeys import ANVIL_CHAIN_ID, DEV_ACCOUNTS, refuse_dev_key
from node.core.errors import ConfigError
from node.crypto.eip712 import PAYMENTS_DOMAIN_NAME, Domain
from node.referee.accounting import ContributionLedger
from node.referee.stake import ActiveStakes, StakeCache, StaticStakes

if TYPE_CHECKING:
    from gateway.energy_gate import EnergyGate

log = logging.getLogger(__name__)

# Off-chain mode (no Payments deployed): vouchers are signed under this placeholder
# verifying contract so they can never be redeemed on any real Payments contract.
OFFCHAIN_PAYMENTS = to_checksum_address(keccak(text="heliomesh off-chain payments")[-20:])


@dataclass
class Gateway:
    settings: GatewaySettings
    models: dict[str, ServedModel]
    generator: Generator
    free_tier: FreeTier
    desk: PaymentDesk
    redeem_loop: RedeemLoop
    stakes: ActiveStakes
    catalog: ModelCatalog
    accounting: ContributionLedger
    chain: ChainLink | None = None
    memory_channels: MemoryChannels | None = None  # set in off-chain mode
    metrics: Metrics = field(default_factory=Metrics)
    swarm_view: Any = None  # a dashboard.serving.SwarmView; None = the in-process spans
    # Energy admission per swarm-served model (gateway/energy_gate.py); empty: none.
    energy_gates: dict[str, EnergyGate] = field(default_factory=dict)

    def served_ids(self) -> list[str]:
        return [m for m in self.models if self.catalog.is_adopted(m)]


def build_gateway(
    settings: GatewaySettings,
    models: dict[str, ServedModel],
    chain: ChainLink | None = None,
    *,
    stakers: set[str] | None = None,
) -> Gateway:
    """Wire the parts; ``chain`` None (or a deployment without Payments) = off-chain payments."""
    chain_id = chain.deployment.chain_id if chain else ANVIL_CHAIN_ID
    key = settings.payee_key
    # Anvil's public dev keys sign only on the local chain (node/chain/devkeys.py).
    refuse_dev_key(key, chain_id, "HELIO_GATEWAY_PAYEE_KEY")
    refuse_dev_key(settings.referee_key, chain_id, "HELIO_GATEWAY_REFEREE_KEY")
    if key is None:
        if chain_id != ANVIL_CHAIN_ID:
            raise ConfigError("set HELIO_GATEWAY_PAYEE_KEY: the gateway operator's key redeems vouchers")
        key = DEV_ACCOUNTS[1].private_key  # PUBLIC anvil dev key: local chains only
    payee = Account.from_key(key)
    helio = chain.helio(payee) if chain else None
    memory: MemoryChannels | None = None
    channels: ChannelSource
    redeemer: Redeemer
    desk_path = settings.desk_path
    if chain is not None and helio is not None and chain.has("Payments"):
        payments = helio.payments
        domain = payments.domain()
        channels, redeemer = ChainChannels(payments), ChainRedeemer(payments)
        desk_path = desk_path or default_desk_path(chain, payee.address)
    else:
        domain = Domain(PAYMENTS_DOMAIN_NAME, chain_id, OFFCHAIN_PAYMENTS)
        memory = MemoryChannels()
        channels, redeemer = memory, MemoryRedeemer(memory)
        log.info("no Payments contract: vouchers are checked against off-chain channels")
    desk = PaymentDesk(domain, payee.address, channels, settings.price_per_token_wei,
                       settings.voucher_min_validity_s,
                       store=DeskStore(desk_path or MEMORY, fsync=settings.desk_fsync),
                       margin_s=int(2 * settings.redeem_interval_s) + settings.redeem_grace_s,
                       payee_key=key)
    metrics = Metrics(enabled=settings.metrics)
    gates = {}
    if settings.energy_admission:
        from gateway.energy_gate import EnergyGate

        gates = {m.model_id: EnergyGate(m.swarm, m.model_id, m.num_blocks, settings.energy_queue_s,
                                        settings.energy_users_per_inferer)
                 for m in models.values() if m.swarm is not None}
    generator = Generator(settings.max_concurrent_generations, settings.queue_timeout_s)
    metrics.watch(lambda: live_families(generator, gates))
    return Gateway(
        settings=settings,
        models=models,
        generator=generator,
        free_tier=FreeTier(settings.free_requests_per_minute, settings.free_tokens_per_minute,
                           settings.contributor_multiplier),
        desk=desk,
        redeem_loop=RedeemLoop(desk, redeemer, settings.redeem_interval_s, metrics=metrics),
        stakes=(StakeCache(helio.staking, ttl_s=CACHE_S) if helio and chain and chain.has("StakingRegistry")
                else StaticStakes(stakers or ())),
        catalog=ModelCatalog(helio.models if helio and chain and chain.has("ModelRegistry") else None),
        accounting=ContributionLedger(settings.contribution_epoch_s),
        chain=chain,
        memory_channels=memory,
        energy_gates=gates,
        metrics=metrics,
    )
