"""Codec negotiation: servers announce the codecs they read (their family's safe default
first), a route takes the best one every hop offers, and a hop that lacks an explicitly
wanted codec fails like a dead server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from node.client.wire_codec import check_offers, route_codec
from node.core.errors import ConfigError
from node.engine.codecs import check_wire_codec, negotiate, offered_codecs
from node.engine.errors import CodecError
from node.referee.planner import Hop
from node.swarm.errors import PeerFailure
from node.swarm.records import ServerRecord, parse_record, sign_record


def test_servers_offer_their_family_default_first() -> None:
    assert offered_codecs("fp16") == ["fp16", "bf16", "int8-blockwise", "none"]
    # Gemma-3's residual stream overflows fp16: never offered there
    assert offered_codecs("bf16") == ["bf16", "int8-blockwise", "none"]
    assert offered_codecs("fp16", "int8-blockwise")[0] == "int8-blockwise"
    with pytest.raises(CodecError, match="unknown codec"):
        offered_codecs("fp16", "zstd")


def test_negotiate_takes_the_best_codec_every_hop_offers() -> None:
    llama, gemma = offered_codecs("fp16"), offered_codecs("bf16")
    assert negotiate("auto", [llama, llama, llama]) == "fp16"
    assert negotiate("auto", [gemma, gemma]) == "bf16"
    assert negotiate("auto", [llama, ["none"]]) == "none"  # an old server: raw
    assert negotiate("auto", [llama, ["int8-blockwise", "none"]]) == "int8-blockwise"
    assert negotiate("int8-blockwise", [llama, gemma]) == "int8-blockwise"
    with pytest.raises(CodecError, match="not offered by hop 1"):
        negotiate("fp16", [llama, gemma])


def test_wire_codec_option_is_checked() -> None:
    assert check_wire_codec("auto") == "auto" and check_wire_codec("bf16") == "bf16"
    with pytest.raises(ConfigError, match="--wire-codec 'zstd'"):
        check_wire_codec("zstd")


def test_records_carry_offered_codecs_and_old_ones_read_none(make_record: Any, key_of: Any) -> None:
    record = make_record(codecs=offered_codecs("fp16"))
    parsed = parse_record(sign_record(record, key_of(0)), model_id=record.model_id, block=3,
                          subkey=record.peer_id)
    assert parsed.codecs == ["fp16", "bf16", "int8-blockwise", "none"]
    old = record.model_dump()
    old.pop("codecs")
    assert ServerRecord(**old).codecs == ["none"]
    for bad in ([], ["zstd"], ["none"] * 9):
        with pytest.raises(ValidationError):
            make_record(codecs=bad)


def test_route_codec_bans_a_hop_without_the_wanted_codec(make_record: Any) -> None:
    fast = make_record(0, 0, 10, codecs=offered_codecs("fp16"))
    old = make_record(1, 10, 30, codecs=["none"])
    records = {r.peer_id: r for r in (fast, old)}
    hops = [Hop(r.peer_id, r.start, r.end, r.address) for r in (fast, old)]

    async def fetch() -> dict[str, ServerRecord]:
        return records

    assert asyncio.run(route_codec(fetch, hops, "auto")) == "none"
    assert asyncio.run(route_codec(fetch, hops[:1], "auto")) == "fp16"
    with pytest.raises(PeerFailure) as failure:
        asyncio.run(route_codec(fetch, hops, "fp16"))
    assert failure.value.peer_id == old.peer_id
    with pytest.raises(PeerFailure, match="does not offer the route's codec 'fp16'"):
        asyncio.run(check_offers(fetch, hops, "fp16"))
