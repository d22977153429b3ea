"""Heliomesh node: everything a peer runs (inferer, referee, client), layered one way.

core ← models ← engine ← {swarm, chain, energy, ipfs} ← {inferer, referee, client} ← {bench, cli}
A package only imports packages to its left; nothing here imports ``gateway``.
"""
