"""Wallet payments: EIP-712 cumulative vouchers checked before any work.

- ``desk``      ``PaymentDesk``: every voucher check, reservation of the worst case,
                charging the actual tokens, the latest voucher per channel, receipts
- ``store``     ``DeskStore``: the desk's books in SQLite (WAL), one file per payee
- ``channels``  ``ChannelInfo``, ``ChannelSource``, ``MemoryChannels`` (no contract)
- ``chain``     ``ChainChannels`` / ``ChainRedeemer``: the deployed Payments contract
- ``redeem``    ``RedeemLoop``: each redemption simulated, the good ones batched every
                ``redeem_interval_s``
- ``bench``     desk latency, restart recovery, redeem throughput (docs/benchmarks.md)

The endpoint that tells clients how to pay is ``gateway.payment_terms``.
"""
