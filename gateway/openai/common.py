"""Protocol pieces shared by the chat and completions endpoints (OpenAI's field names)."""

from __future__ import annotations

import secrets
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SEED_MAX = 2**63 - 1

# Per-field limits of the request bodies (docs/gateway.md#limits): a request beyond one gets
# 400 naming the field. The body size (HELIO_GATEWAY_MAX_BODY_BYTES, 1 MiB) and the prompt's
# characters (HELIO_GATEWAY_MAX_PROMPT_CHARS) are settings and usually bind first.
MAX_ID_CHARS = 256  # model, user, a message's name
MAX_MESSAGES = 2048  # messages of a chat request (as OpenAI)
MAX_TEXT_CHARS = 1_048_576  # one message's content or one content part's text
MAX_CONTENT_PARTS = 256  # parts of one message's content
MAX_STOP = 4  # stop strings (as OpenAI)
MAX_STOP_CHARS = 256  # characters of one stop string
MAX_PROMPT_IDS = 131_072  # token ids of a completions prompt


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class StreamOptions(BaseModel):
    include_usage: bool = False


StopField = Annotated[
    Annotated[str, Field(max_length=MAX_STOP_CHARS)]
    | Annotated[list[Annotated[str, Field(min_length=1, max_length=MAX_STOP_CHARS)]],
                Field(max_length=MAX_STOP)]
    | None,
    Field(description=f"up to {MAX_STOP} strings of at most {MAX_STOP_CHARS} characters; "
          "generation stops before the first one produced"),
]


class SamplingRequest(BaseModel):
    """Fields both endpoints take. Unknown fields (OpenAI's others) are ignored: not kept."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=MAX_ID_CHARS, description="a model id from GET /v1/models")
    max_tokens: int | None = Field(None, ge=1, description="new tokens at most")
    temperature: float = Field(1.0, ge=0, le=2, description="0 = greedy")
    top_p: float = Field(1.0, gt=0, le=1)
    n: int = Field(1, ge=1, le=1, description="only 1 is supported")
    stop: StopField = None
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=MAX_ID_CHARS)

    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        return tuple(s for s in stops if s)

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"
