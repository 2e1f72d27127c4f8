"""The API Gateway REQUEST authorizer handler on a real event shape."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from steward.auth.authorize import Authorizer

from functions.authorizer.handler import authorize_event

from .conftest import load_event


def test_valid_key_gets_allow_on_the_whole_stage_with_string_context(
    authorizer: Authorizer, make_key: Callable[..., str]
) -> None:
    # Given a REQUEST authorizer event carrying a valid key
    token = make_key("acme", ("all-minilm-l6-v2", "credit-risk"), admin=True)
    event = load_event("authorizer_request.json", API_KEY=token)
    # When the authorizer runs
    response = authorize_event(event, authorizer)
    # Then it allows the stage wildcard and passes the identity as string context
    statement = response["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*"
    context = response["context"]
    assert context["tenant_id"] == "acme"
    assert context["models"] == "all-minilm-l6-v2,credit-risk"
    assert context["scopes"] == "admin"
    assert all(isinstance(v, str | int | float | bool) for v in context.values())
    assert token not in str(response)


@pytest.mark.parametrize("header", ["Bearer stw_nope", "", "Bearer "])
def test_bad_or_missing_key_raises_unauthorized(authorizer: Authorizer, header: str) -> None:
    event = load_event("authorizer_request.json", API_KEY="x")
    event["headers"]["Authorization"] = header
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize_event(event, authorizer)


def test_x_api_key_header_is_accepted(authorizer: Authorizer, make_key: Callable[..., str]) -> None:
    token = make_key()
    event = load_event("authorizer_request.json", API_KEY="x")
    del event["headers"]["Authorization"]
    event["headers"]["x-api-key"] = token
    assert authorize_event(event, authorizer)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
