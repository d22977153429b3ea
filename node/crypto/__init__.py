"""Signatures shared by every role, below the roles that use them (no web3 connection, no torch).

- ``eip712``  the EIP-712 structs mirrored once from Solidity (``EnergyReport``, ``Voucher``,
              ``OutputCommitment``, ``FraudClaim``), ``Domain``, ``model_key``; signed by
              inferers (energy, commitments) and clients (vouchers), checked by referees,
              the gateway and the contracts (tests/contracts/test_eip712.py)
"""
