"""How to pay this gateway (``GET /v1/payments``): payee, chain, contract, price, and a model
id's voucher key. Above ``gateway.state`` (it reads the gateway's desk), unlike
``gateway.payments``, the desk itself, which the state builds.

- ``router``   ``GET /v1/payments``, ``GET /v1/payments/model-key/{model}`` (thin routes)
- ``serving``  ``payments_info`` (how to pay this gateway), ``model_key_info``
"""
