"""Checks ``helio node serve`` makes against the chain before it fetches or loads anything."""

from __future__ import annotations

from node.core.errors import ConfigError

NOT_SERVABLE = ("proposed", "evaluating", "voting", "rejected", "deprecated")


def refuse_unadopted(manifest_cid: str, rpc_url: str, network: str | None) -> None:
    """A manifest the registry knows but has not adopted (or has deprecated) is not served:
    say which model it is, where it stands and what to do. A CID the registry does not
    know (a private swarm, a test) is the operator's own business."""
    from node.chain.bindings import MODEL_STATUS
    from node.cli.chain_access import open_chain

    models = open_chain(network, rpc_url, None, signing=False).models
    key = bytes(models.c.functions.keyOfManifest(manifest_cid).call())
    if key == bytes(32):
        return
    record = models.c.functions.modelOf(key).call()
    status, model_id = MODEL_STATUS[record[1]], record[7]
    if status in NOT_SERVABLE:
        raise ConfigError(
            f"manifest {manifest_cid} is {model_id!r}, which is {status}, not adopted: inferers "
            f"serve adopted models only; see `helio model status {model_id}`"
        )
