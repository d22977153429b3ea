"""Wallet payments: EIP-712 cumulative vouchers checked before any work.

- ``desk``      ``PaymentDesk``: every voucher check, reservation of the worst case,
                charging the actual tokens, the latest voucher per channel
- ``channels``  ``ChannelInfo``, ``ChannelSource``, ``MemoryChannels`` (no contract)
- ``chain``     ``ChainChannels`` / ``ChainRedeemer``: the deployed Payments contract
- ``redeem``    ``RedeemLoop``: batch redemption every ``redeem_interval_s``

The endpoint that tells clients how to pay is ``gateway.payment_terms``.
"""
