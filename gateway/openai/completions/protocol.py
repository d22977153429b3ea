"""``POST /v1/completions``: request and response bodies (OpenAI's legacy completions)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gateway.openai.common import MAX_PROMPT_IDS, MAX_TEXT_CHARS, SamplingRequest, Usage

TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=MAX_PROMPT_IDS)]
PromptText = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class CompletionRequest(SamplingRequest):
    prompt: PromptText | TokenIds | Annotated[list[PromptText], Field(min_length=1, max_length=1)] = Field(
        description="a string, a list of token ids, or a list holding one string"
    )
    echo: bool = False
    max_tokens: int | None = Field(16, ge=1, description="new tokens at most (OpenAI default 16)")


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
