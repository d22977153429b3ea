"""A record names the manifest of the weights it serves (issue #15); the CID is signed
with the rest, so a peer cannot swap it after signing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from node.swarm.errors import RecordError
from node.swarm.records import parse_record, sign_record

CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
MODEL = "smollm2-135m-instruct"


def test_record_carries_its_manifest_cid_signed(make_record: Any, key_of: Any) -> None:
    record = make_record(0, manifest_cid=CID)
    value = sign_record(record, key_of(0))
    assert parse_record(value, model_id=MODEL, block=0, subkey=record.peer_id).manifest_cid == CID
    outer = json.loads(value)
    outer["record"]["manifest_cid"] = "Qm" + "B" * 44  # other weights, claimed after signing
    with pytest.raises(RecordError, match="signed by"):
        parse_record(json.dumps(outer).encode(), model_id=MODEL, block=0, subkey=record.peer_id)


def test_record_refuses_a_manifest_cid_that_is_not_a_cidv0(make_record: Any) -> None:
    with pytest.raises(ValidationError, match="manifest_cid"):
        make_record(0, manifest_cid="bafy-not-a-cid")
