"""What a registry follower passes on to its child inferers (node/inferer/follow.py)."""

from __future__ import annotations

from node.inferer.follow import child_args, fixed_ports


def test_children_inherit_the_options_but_not_the_span_identity_or_metrics_port() -> None:
    argv = ["--follow-registry", "--rpc-url", "http://x", "--blocks", "auto", "--num-blocks=10",
            "--identity", "id.key", "--metrics-port", "9100", "--dev-key", "2", "-b", "0:3",
            "--ipfs-peer", "/ip4/1.2.3.4/tcp/1/p2p/Qm"]
    assert child_args(argv) == ["--rpc-url", "http://x", "--dev-key", "2",
                                "--ipfs-peer", "/ip4/1.2.3.4/tcp/1/p2p/Qm"]


def test_fixed_ports_mean_release_before_the_next_child_starts() -> None:
    assert not fixed_ports(["--port", "0", "--ipfs-listen", "/ip4/0.0.0.0/tcp/0"])
    assert fixed_ports(["--port", "31330"])
    assert fixed_ports(["--port=31330"])
    assert fixed_ports(["--ipfs-listen", "/ip4/0.0.0.0/tcp/4002"])
