"""Swarm errors. Each says which peer or which blocks, and what to do about it."""

from __future__ import annotations

from node.core.errors import HeliomeshError


class SwarmError(HeliomeshError):
    """Base of the swarm's errors."""


class MissingBlocksError(SwarmError):
    """No live, staked, unbanned server covers some blocks of the model right now."""

    def __init__(self, model_id: str, blocks: list[int], detail: str = "") -> None:
        self.model_id = model_id
        self.blocks = blocks
        shown = block_ranges(blocks)
        super().__init__(
            f"no server covers block(s) {shown} of {model_id}{': ' + detail if detail else ''}; "
            "start an inferer for them (`helio node serve --model "
            f"{model_id} --blocks a:b`) or wait for one to come back"
        )


class PeerFailure(SwarmError):
    """A server failed, vanished, timed out or answered nonsense; the client re-routes."""

    def __init__(self, peer_id: str, reason: str) -> None:
        self.peer_id = peer_id
        self.reason = reason
        super().__init__(f"server {short_peer(peer_id)} failed: {reason}")


class ProtocolError(SwarmError):
    """A message does not follow the wire format (bad schema, size, shape or dtype)."""

    code = "bad_request"


class RecordError(SwarmError):
    """A DHT record failed validation (schema, signature, key/subkey mismatch, expiry)."""


class SessionError(SwarmError):
    """A request names a session this server does not hold (never opened, or closed)."""

    code = "unknown_session"


class WrongSpanError(SwarmError):
    """A session asks for a model or blocks this server does not serve (or it is draining)."""

    code = "wrong_span"


class ServerBusyError(SwarmError):
    """The server has no KV-cache room for the session's max length."""

    code = "busy"


def short_peer(peer_id: str) -> str:
    """``12D3…abcdef``: enough to tell peers apart in logs."""
    return peer_id if len(peer_id) <= 12 else f"{peer_id[:4]}…{peer_id[-6:]}"


def block_ranges(blocks: list[int]) -> str:
    """[3, 4, 5, 9] → '3-5, 9'"""
    out: list[str] = []
    for block in sorted(set(blocks)):
        if out and out[-1].split("-")[-1] == str(block - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{block}"
        else:
            out.append(str(block))
    return ", ".join(out)
