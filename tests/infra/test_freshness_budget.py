"""A revoked key stops working everywhere within 5 s: API Gateway's authorizer result cache and
the authorizer function's key cache together stay inside the freshness budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from steward.ttl_cache import DEFAULT_TTL_S, FRESHNESS_BOUND_S

from cdk.settings import StageSettings

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def test_edge_and_function_caches_together_stay_within_the_bound(synth: Synth) -> None:
    # Given the REQUEST authorizer and the function behind it
    (authorizer,) = synth.resources("AWS::ApiGateway::Authorizer").values()
    edge_s = authorizer["Properties"]["AuthorizerResultTtlInSeconds"]
    function = synth.resources("AWS::Lambda::Function")[
        synth.logical_id(synth.stack.api.authorizer_function.function)
    ]
    in_process_s = float(function["Properties"]["Environment"]["Variables"]["STEWARD_AUTH_CACHE_TTL_S"])
    # Then a decision cached at the edge, made from a record cached in the function, is at most
    # the in-process share of the 5 s promise old (the rest is DynamoDB's replication lag)
    assert 0 <= edge_s <= FRESHNESS_BOUND_S
    assert edge_s + in_process_s <= DEFAULT_TTL_S


@pytest.mark.parametrize("edge_s", [0, 2, 4])
def test_an_edge_cache_takes_its_seconds_from_the_function_cache(edge_s: int) -> None:
    settings = StageSettings.from_context("dev", {"dev": {"authorizerCacheTtlS": edge_s}})
    assert settings.authorizer_cache_ttl_s + settings.authorizer_function_cache_ttl_s == DEFAULT_TTL_S


@pytest.mark.parametrize("edge_s", [5, 60, 300, -1])
def test_an_edge_cache_longer_than_the_budget_is_refused(edge_s: int) -> None:
    with pytest.raises(ValueError, match="authorizer_cache_ttl_s"):
        StageSettings.from_context("dev", {"dev": {"authorizerCacheTtlS": edge_s}})
