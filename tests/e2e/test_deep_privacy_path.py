"""A tenant policy picks the deep PII path; the backend's token classifier finds the names."""

from __future__ import annotations

import httpx
import pytest
from steward.privacy import default_policy

from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TEXT = "Yesterday Maria Garcia flew from Denver to see her sister."


def _redact(stack: RunningStack) -> dict[str, object]:
    response = httpx.post(
        f"{stack.api_url}/v1/redact",
        headers={"Authorization": f"Bearer {stack.key}"},
        json={"text": TEXT},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _ner_requests(stack: RunningStack) -> float:
    """The backend's Prometheus count of requests to the pii-ner model."""
    metrics = httpx.get(f"{stack.state['backend_url']}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("steward_backend_inference_requests_total") and 'model="pii-ner"' in line
    )


def test_admin_policy_switches_the_tenant_to_the_deep_path(stack: RunningStack) -> None:
    # Given the tenant's admin stores a policy that asks for the deep path
    policy = {
        "detection_path": "deep",
        "entities": {"PERSON": {"operator": "placeholder"}, "LOCATION": {"operator": "placeholder"}},
    }
    admin = {"Authorization": f"Bearer {stack.state['demo_admin_key']}"}
    saved = httpx.put(f"{stack.api_url}/admin/policies/demo", headers=admin, json=policy, timeout=30)
    assert saved.status_code == 201, saved.text
    # And a non-admin key may not
    refused = httpx.put(
        f"{stack.api_url}/admin/policies/demo",
        headers={"Authorization": f"Bearer {stack.key}"},
        json=policy,
        timeout=30,
    )
    assert refused.status_code == 403
    try:
        # When the tenant redacts a sentence with a name and a city
        before = _ner_requests(stack)
        body = _redact(stack)
        # Then the backend's token classifier was asked, found both, and only placeholders return
        assert _ner_requests(stack) > before
        types = {f["entity_type"] for f in body["findings"]}  # type: ignore[attr-defined]
        assert {"PERSON", "LOCATION"} <= types
        assert "Maria" not in str(body["text"]) and "Denver" not in str(body["text"])
        assert str(body["policy_version"]).startswith("tenant@")
    finally:
        # Put the shared stack back on the built-in policy (as a newer version) for other tests
        builtin = default_policy().model_dump(mode="json", exclude={"version", "tenant_id", "model"})
        httpx.put(
            f"{stack.api_url}/admin/policies/demo", headers=admin, json=builtin, timeout=30
        ).raise_for_status()
