"""Contribution epochs as the gateway runs them: the referee's ledger and epoch closing
(``node/referee/accounting.py``, ``node/referee/epochs.py``) wired to this gateway's
settings and chain, and ``GET /v1/contributions``.

- ``router``   the thin FastAPI route
- ``serving``  ``contributions`` (the report), ``close_epoch(gateway)``, ``epoch_loop``
"""
