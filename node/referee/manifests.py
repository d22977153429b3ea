"""Routes chain only spans of one manifest: block 10 of one set of weights cannot follow
block 9 of another, even under the same model id (a re-conversion, another dtype, a
model re-proposed under an id that was freed).

``same_manifest`` keeps the servers of the wanted manifest (the client's own, when it
knows it), else of the manifest that covers most of the range (ties: most servers, then
the CID, so every planner picks the same one). Records without a CID (older software)
form their own group and never mix with named ones.
"""

from __future__ import annotations

from collections import defaultdict

from node.swarm.records import ServerRecord


def same_manifest(servers: list[ServerRecord], start: int, end: int,
                  manifest_cid: str | None = None) -> list[ServerRecord]:
    if manifest_cid is not None:
        return [s for s in servers if s.manifest_cid == manifest_cid]
    groups: dict[str | None, list[ServerRecord]] = defaultdict(list)
    for server in servers:
        groups[server.manifest_cid].append(server)
    if len(groups) <= 1:
        return servers

    def rank(cid: str | None) -> tuple[int, int, str]:
        covered = {b for s in groups[cid] for b in s.blocks if start <= b < end}
        return len(covered), len(groups[cid]), cid or ""

    return groups[max(groups, key=rank)]
