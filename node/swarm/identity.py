"""A node's stable libp2p identity: a key file whose peer id is known before serving.

``helio node serve --identity FILE`` hands the file to p2pd (created on first run), so the
peer id stays the same across restarts; ``helio node identity FILE`` and ``helio stake
--identity FILE`` read the same peer id without starting anything (what StakingRegistry
records at registration).
"""

from __future__ import annotations

from pathlib import Path

from hivemind.p2p import P2P, PeerID

from node.core.errors import ConfigError


def ensure_identity(path: Path) -> str:
    """The peer id of the key file at ``path``; the file is created first if missing."""
    path = path.expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        P2P.generate_identity(str(path))  # hivemind's format (what p2pd reads), mode 0400
    return peer_id_of(path)


def peer_id_of(path: Path) -> str:
    """The peer id of an existing key file; ``ConfigError`` naming the file otherwise."""
    try:
        return str(PeerID.from_identity(path.expanduser().read_bytes()))
    except FileNotFoundError:
        raise ConfigError(f"no identity file at {path}: `helio node identity {path}` creates one") from None
    except Exception as exc:  # a truncated or foreign file
        raise ConfigError(f"{path} is not a libp2p identity key file ({type(exc).__name__})") from None
