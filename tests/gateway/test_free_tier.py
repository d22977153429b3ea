"""The free tier over real HTTP: 429 with Retry-After in OpenAI's shape, contributors
(staked inferers with a signed proof) get higher limits."""

from __future__ import annotations

import httpx
import openai
import pytest
from gwkit import INFERER, MODEL, OTHER, QUESTION

from node.client.contributor import CONTRIBUTOR_HEADER, contributor_header

pytestmark = [pytest.mark.model, pytest.mark.slow]


def _chat(client: openai.OpenAI, **kw):
    return client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=1, temperature=0, **kw)


def test_over_the_request_limit_is_429_with_retry_after(start_gateway) -> None:
    gw = start_gateway(free_requests_per_minute=2)
    client = gw.openai()
    _chat(client)
    _chat(client)
    with pytest.raises(openai.RateLimitError) as err:
        _chat(client)
    assert err.value.status_code == 429
    assert err.value.body["type"] == "rate_limit_error" and err.value.body["code"] == "rate_limit_exceeded"
    assert 1 <= int(err.value.response.headers["Retry-After"]) <= 60
    assert httpx.get(f"{gw.url}/v1/models").status_code == 200  # listing models is not limited


def test_over_the_token_limit_is_429_before_inference(start_gateway) -> None:
    gw = start_gateway(free_tokens_per_minute=120)
    client = gw.openai()
    _chat(client)  # ≈ 38 tokens
    _chat(client)
    generated = gw.gateway.generator.tokens_generated
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=60)
    assert gw.gateway.generator.tokens_generated == generated
    with pytest.raises(openai.BadRequestError) as err:  # can never fit: say so, not 429
        client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=500)
    assert err.value.body["code"] == "free_tier_request_too_large"


def test_staked_contributor_gets_higher_limits(start_gateway) -> None:
    gw = start_gateway(free_requests_per_minute=1, contributor_multiplier=3, stakers={INFERER.address})
    proof = {CONTRIBUTOR_HEADER: contributor_header(INFERER.private_key, gw.gateway.desk.payee, gw.gateway.desk.domain.chain_id)}
    contributor = gw.openai(default_headers=proof)
    for _ in range(3):
        _chat(contributor)
    with pytest.raises(openai.RateLimitError):
        _chat(contributor)
    assert gw.gateway.metrics.requests["contributor"] == 3


def test_bad_or_unstaked_contributor_proof_is_403(start_gateway) -> None:
    gw = start_gateway(stakers={INFERER.address})
    unstaked = gw.openai(default_headers={CONTRIBUTOR_HEADER: contributor_header(OTHER.private_key, gw.gateway.desk.payee, gw.gateway.desk.domain.chain_id)})
    with pytest.raises(openai.PermissionDeniedError) as err:
        _chat(unstaked)
    assert err.value.body["code"] == "not_a_contributor"
    forged = contributor_header(OTHER.private_key, gw.gateway.desk.payee, gw.gateway.desk.domain.chain_id).replace(OTHER.address, INFERER.address)
    with pytest.raises(openai.PermissionDeniedError) as err:
        _chat(gw.openai(default_headers={CONTRIBUTOR_HEADER: forged}))
    assert err.value.body["code"] == "bad_contributor_proof"
