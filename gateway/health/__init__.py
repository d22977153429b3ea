"""``GET /health``: liveness and what the gateway is connected to.

- ``router``   the thin FastAPI route
- ``serving``  ``health(gateway)``: the report
"""
