"""Protocol pieces shared by the chat and completions endpoints (OpenAI's field names)."""

from __future__ import annotations

import secrets
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SEED_MAX = 2**63 - 1


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class StreamOptions(BaseModel):
    include_usage: bool = False


StopField = Annotated[
    str | list[Annotated[str, Field(min_length=1)]] | None,
    Field(description="up to 4 strings; generation stops before the first one produced"),
]


class SamplingRequest(BaseModel):
    """Fields both endpoints take. Unknown OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="a model id from GET /v1/models")
    max_tokens: int | None = Field(None, ge=1, description="new tokens at most")
    temperature: float = Field(1.0, ge=0, le=2, description="0 = greedy")
    top_p: float = Field(1.0, gt=0, le=1)
    n: int = Field(1, ge=1, le=1, description="only 1 is supported")
    stop: StopField = None
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None

    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        return tuple(s for s in stops if s)[:4]

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"
