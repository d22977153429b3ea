"""The swarm: discovery, announcements, wire formats and simulated networks (hivemind 1.1.12).

- ``records``  ``ServerRecord`` (what an inferer announces), ``sign_record`` / ``parse_record``
- ``dht``      ``SwarmDHT``: announce under ``"{model}.{block}"``, fetch valid records; ``coverage``, ``gaps``
- ``peer``     ``PeerConfig``, ``start_peer`` (libp2p peer + DHT node), ``connect``, ``LoopThread``, ``run``
- ``relay``    NAT'd peers via libp2p circuit relays: static relays, circuit addresses,
               ``daemon_maddr``, ``relay_carries`` (p2pd's 128 KiB default-relay race)
- ``wire``     the wire protocol: handler names, messages (open/step/push/result/error), and
               hidden states encoded through ``node.engine.codecs`` (any codec per session)
- ``evidence`` ``CommitmentSigner``: EIP-712 ``OutputCommitment`` per step; ``InputChain``, the
               input hash chain (with rollback) both client and server keep
- ``balance``  span selection (Petals' rule) and the move check (``should_move``)
- ``errors``   ``MissingBlocksError``, ``PeerFailure``, ``ProtocolError``, ``SessionError``, …
- ``delay``    ``DelayRelay``: a delaying TCP relay (simulated distance)
- ``netns``    ``Namespace``: test network namespace with a ``tbf`` upload cap

See docs/swarm.md.
"""
