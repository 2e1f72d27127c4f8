"""The shipped credit-risk model explained through the server equals a direct exact Shapley call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from server_helpers import cpu_settings, features_request, wait_until_loaded
from starlette.testclient import TestClient

from gpu_backend.explain import exact_shapley, session_predict_fn
from gpu_backend.server import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def credit_risk(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding only credit-risk (a link to the built one), so only it loads."""
    root = tmp_path_factory.mktemp("credit-only")
    (root / "credit-risk").symlink_to(model_repository / "credit-risk", target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def client(credit_risk: Path) -> Iterator[TestClient]:
    with TestClient(create_app(cpu_settings(credit_risk))) as test_client:
        wait_until_loaded(test_client)
        yield test_client


def test_credit_risk_explanations_match_exact_shapley_on_the_recorded_background(
    client: TestClient, credit_risk: Path
) -> None:
    # Given four rows of the background sample and the model in a separate session
    version_dir = credit_risk / "credit-risk" / "1"
    background = np.load(version_dir / "background.npy")
    rows = background[:4] * 1.1
    session = ort.InferenceSession(str(version_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    expected = exact_shapley(session_predict_fn(session, "features", "probabilities"), rows, background)

    # When the server explains them (default target: class 1 = approve)
    response = client.post("/v2/models/credit-risk/explain", json=features_request(rows.tolist()))

    # Then the attributions and base values equal the direct computation, named by feature
    assert response.status_code == 200, response.text
    body = response.json()
    out = {o["name"]: np.reshape(o["data"], o["shape"]) for o in body["outputs"]}
    np.testing.assert_allclose(out["attributions"], expected.attributions, atol=1e-9)
    np.testing.assert_allclose(out["base_value"], expected.base_value, atol=1e-12)
    assert body["parameters"]["feature_names"][-1] == "group"
    assert body["parameters"]["target_name"] == "approve" and body["parameters"]["coalitions"] == 1024
    assert body["parameters"]["efficiency_max_abs_error"] < 1e-9
