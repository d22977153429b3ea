"""One session on one span: its KV cache, how many tokens it holds, its limits; and
``StepRequest``, one step of one session (what hosts and their batching workers run)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from node.engine.errors import InvalidRequestError

SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def check_session_id(session_id: object) -> str:
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise InvalidRequestError(
            f"invalid session id {session_id!r}: use 1-128 characters from [A-Za-z0-9._:-] "
            "(e.g. uuid4().hex)"
        )
    return session_id


@dataclass
class SpanSession:
    """State a host keeps per open session (``length`` = tokens in ``cache``)."""

    session_id: str
    max_length: int
    cache: Any
    reserved_bytes: int
    length: int = 0
    opened_at: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.last_used = time.monotonic()


@dataclass(frozen=True)
class StepRequest:
    session_id: str
    hidden: torch.Tensor  # (1, T, H) for tokens [position, position + T)
    position: int  # tokens the client believes this span's cache holds
