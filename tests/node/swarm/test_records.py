"""DHT records: signed by the inferer's Ethereum key, validated field by field on read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from node.swarm.errors import RecordError
from node.swarm.records import MAX_RECORD_BYTES, ServerRecord, parse_record, sign_record

PEERS = [
    "12D3KooWL47596iL71cKjFa7AYW2q3ejBrB33JTKZaLaxdb78Wwi",
    "12D3KooWQSdtatzXoBEtbw96t6N8PWUvTrQydjkpzDRmNMtemFtt",
]

MODEL = "smollm2-135m-instruct"


def test_sign_and_parse_roundtrip(record: ServerRecord, key_of: Any) -> None:
    value = sign_record(record, key_of(0))
    assert parse_record(value, model_id=MODEL, block=3, subkey=record.peer_id) == record


def test_sign_record_refuses_another_key(record: ServerRecord, key_of: Any) -> None:
    with pytest.raises(RecordError, match="the key is"):
        sign_record(record, key_of(1))


def test_parse_record_rejects_tampered_field(record: ServerRecord, key_of: Any) -> None:
    outer = json.loads(sign_record(record, key_of(0)))
    outer["record"]["throughput"] = 1e5  # claims to be fast after signing
    with pytest.raises(RecordError, match="signed by"):
        parse_record(json.dumps(outer).encode(), model_id=MODEL, block=0, subkey=record.peer_id)


def test_parse_record_accepts_any_signing_address_stake_decides(make_record: Any, key_of: Any) -> None:
    forged = make_record(0, address=make_record(1).address)  # names inferer 1's address
    value = sign_record(forged, key_of(1))  # signed by 1, but published under peer 0
    parsed = parse_record(value, model_id=MODEL, block=0, subkey=PEERS[0])
    assert parsed.address == forged.address  # valid: the address signed it; stake decides


@pytest.mark.parametrize(
    ("block", "subkey", "model", "match"),
    [
        (10, PEERS[0], MODEL, "claims"),  # not one of its blocks
        (0, PEERS[1], MODEL, "subkey"),  # stored under another peer's subkey
        (0, PEERS[0], "other-model", "stored under"),
    ],
)
def test_parse_record_checks_key_and_subkey(record: ServerRecord, key_of: Any, block: int,
                                            subkey: str, model: str, match: str) -> None:
    with pytest.raises(RecordError, match=match):
        parse_record(sign_record(record, key_of(0)), model_id=model, block=block, subkey=subkey)


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[]", b'{"record": {}, "signature": "0x00"}', "a string", 42,
     b"x" * (MAX_RECORD_BYTES + 1)],
)
def test_parse_record_rejects_malformed_values(value: object) -> None:
    with pytest.raises(RecordError):
        parse_record(value, model_id=MODEL, block=0, subkey=PEERS[0])


@pytest.mark.parametrize(
    "fields",
    [{"start": 5, "end": 5}, {"throughput": -1.0}, {"cache_tokens_left": -3},
     {"peer_id": "not-a-peer"}, {"address": "0xabc"}, {"state": "dancing"},
     {"model_id": "Bad.Model"}, {"pings": {"nope": 1.0}}, {"end": 5000},
     {"maddrs": ["not/a/multiaddr"]}, {"maddrs": ["/ip4/127.0.0.1/tcp/1"] * 9}],
)
def test_record_schema_rejects_out_of_range(make_record: Any, fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make_record(**fields)
