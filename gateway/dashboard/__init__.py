"""The live swarm dashboard's data (the web app's ``#/dashboard`` draws it).

- ``router``   ``GET /api/swarm``, ``GET /api/swarm/events`` (SSE)
- ``serving``  ``snapshot``: per model the servers (``SwarmView``: ``LocalSwarmView`` or
               ``swarm_view.SwarmDhtView``), gaps, energy, stake, reputation; metrics
"""
