"""In-process inferers for spot-check tests: a real span (tiny llama), a real key that
signs real commitments, optionally an adversary (node/inferer/adversary.py). ``serve``
computes one hop session the way ``SpanService._step`` does; ``executor`` turns a set
of them into the ``Execute`` a ``SpotChecker`` calls (the network part is covered by
tests/integration/test_integrity_swarm.py)."""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field

import torch
from eth_keys.main import lazy_key_api as keys  # what `from eth_keys import keys` gives
from eth_utils.crypto import keccak

from node.engine import Span, SpanHost
from node.engine.fingerprint import fingerprint
from node.inferer.adversary import Adversary
from node.referee.audit import Execute, Execution, HopRecord
from node.swarm.evidence import (
    CommitmentSigner,
    InputChain,
    StepEvidence,
    default_domain,
    fingerprint_hash,
    input_seed,
    session_key,
)
from node.swarm.wire import encode_hidden

MODEL_ID = "tiny-llama"
SIGNER = CommitmentSigner(default_domain())


@dataclass
class LocalInferer:
    span: Span
    private_key: str
    mode: str | None = None
    signer: CommitmentSigner = SIGNER  # the Verification domain it signs under
    peer_id: str = field(default_factory=lambda: "12D3KooW" + secrets.token_hex(22))
    served: int = 0

    def __post_init__(self) -> None:
        self.adversary = Adversary(self.mode)
        if self.mode in ("int4", "weights", "skip"):
            self.span = self.adversary.corrupt_span(copy.deepcopy(self.span))
        self.key = keys.PrivateKey(bytes.fromhex(self.private_key.removeprefix("0x")))
        self.address = self.key.public_key.to_checksum_address()

    def serve(self, chunks: list[torch.Tensor], session_id: str | None = None) -> list[StepEvidence]:
        """One session: every chunk in order, a signed commitment per step."""
        session_id = session_id or secrets.token_hex(32)
        host = SpanHost(self.span)
        host.open(session_id, 4096)
        hashes = InputChain(input_seed(MODEL_ID, self.span.start, self.span.end, "float32"))
        out, position = [], 0
        for step, hidden in enumerate(chunks):
            output = self.adversary.output(session_id, hidden, host.step(session_id, hidden, position))
            data = bytes(encode_hidden(hidden).buffer)
            input_hash = hashes.hash_step(position, data)
            hashes.record(position + hidden.shape[1], input_hash)
            output_hash = keccak(encode_hidden(output).buffer)
            blob = fingerprint(output).to_bytes()
            digest = self.signer.digest(session_key(session_id), step, input_hash, output_hash,
                                        fingerprint_hash(blob))
            out.append(StepEvidence(self.peer_id, self.address, session_id, self.span.start, self.span.end,
                                    step, position, input_hash, output_hash, self.signer.sign(self.key, digest),
                                    blob, hidden.shape[1]))
            position += hidden.shape[1]
        host.shutdown()
        self.served += 1
        return out


def record_of(inferer: LocalInferer, chunks: list[torch.Tensor], quantization: str = "none") -> HopRecord:
    if inferer.mode == "replay":  # it needs another session to copy from
        inferer.serve([torch.randn_like(c) for c in chunks])
    evidence = inferer.serve(chunks)
    positions = [e.position for e in evidence]
    return HopRecord(MODEL_ID, inferer.span.end, inferer.span.start, inferer.span.end, "float32", "none",
                     4096, tuple((p, c.shape[1]) for p, c in zip(positions, chunks, strict=True)),
                     tuple(encode_hidden(c) for c in chunks), tuple(evidence), quantization)


def executor(inferers: list[LocalInferer]) -> Execute:
    """Replays a record on the first inferer not avoided (decoding the recorded inputs)."""
    from node.swarm.wire import decode_hidden

    async def execute(record: HopRecord, avoid: set[str]) -> Execution | None:
        for inferer in inferers:
            if inferer.address in avoid or inferer.peer_id in avoid:
                continue
            chunks = [decode_hidden(t, hidden_size=inferer.span.hidden_size, dtype="float32", max_tokens=4096)
                      for t in record.inputs]
            return Execution(inferer.peer_id, inferer.address, tuple(inferer.serve(chunks)))
        return None

    return execute


def chunks(hidden: int, prompt: int = 5, decode: int = 4, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(1, prompt, hidden, generator=gen),
            *(torch.randn(1, 1, hidden, generator=gen) for _ in range(decode))]


def forged(inferer: LocalInferer, like: StepEvidence, blob: bytes) -> StepEvidence:
    """``inferer`` signs a made-up result for ``like``'s step: fingerprint ``blob``
    (colluding verifiers agree on one fake fingerprint)."""
    session_id = secrets.token_hex(32)
    output_hash = keccak(blob)
    digest = inferer.signer.digest(session_key(session_id), like.step, like.input_hash, output_hash,
                                   fingerprint_hash(blob))
    return StepEvidence(inferer.peer_id, inferer.address, session_id, like.start, like.end, like.step,
                        like.position, like.input_hash, output_hash, inferer.signer.sign(inferer.key, digest),
                        blob, like.tokens)
