"""The shipped credit-risk versions through the server: both are served side by side, each answers
with its own graph, and its explanations equal a direct exact Shapley call."""

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
def credit_risk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding only credit-risk, every shipped version, built here (about 2 s)."""
    from gpu_backend.build.registry import build_models

    root = tmp_path_factory.mktemp("credit-only")
    build_models(root, ["credit-risk"])
    return root


@pytest.fixture(scope="module")
def client(credit_risk: Path) -> Iterator[TestClient]:
    with TestClient(create_app(cpu_settings(credit_risk))) as test_client:
        wait_until_loaded(test_client)
        yield test_client


def _session(version_dir: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(version_dir / "model.onnx"), providers=["CPUExecutionProvider"])


def test_both_versions_are_served_each_with_its_own_graph(client: TestClient, credit_risk: Path) -> None:
    # Given both built versions and rows of the background sample
    rows = np.load(credit_risk / "credit-risk" / "1" / "background.npy")[:8]
    metadata = client.get("/v2/models/credit-risk").json()
    answers = {}
    for version in ("1", "2"):
        # When each version is asked by its path
        ready = client.get(f"/v2/models/credit-risk/versions/{version}/ready")
        response = client.post(
            f"/v2/models/credit-risk/versions/{version}/infer", json=features_request(rows.tolist())
        )
        # Then it is ready and answers with its own graph's probabilities, naming its version
        assert ready.status_code == 200
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_version"] == version
        answers[version] = np.reshape(body["outputs"][0]["data"], (8, 2))
        (expected,) = _session(credit_risk / "credit-risk" / version).run(
            ["probabilities"], {"features": rows}
        )
        np.testing.assert_allclose(answers[version], expected, atol=1e-6)
    assert metadata["versions"] == ["1", "2"]
    assert np.abs(answers["1"] - answers["2"]).max() > 1e-3


@pytest.mark.parametrize("version", ["1", "2"])
def test_credit_risk_explanations_match_exact_shapley_on_the_recorded_background(
    client: TestClient, credit_risk: Path, version: str
) -> None:
    # Given four rows of the background sample and the model in a separate session
    version_dir = credit_risk / "credit-risk" / version
    background = np.load(version_dir / "background.npy")
    rows = background[:4] * 1.1
    session = _session(version_dir)
    expected = exact_shapley(session_predict_fn(session, "features", "probabilities"), rows, background)

    # When the server explains them (default target: class 1 = approve)
    response = client.post(
        f"/v2/models/credit-risk/versions/{version}/explain", json=features_request(rows.tolist())
    )

    # Then the attributions and base values equal the direct computation, named by feature
    assert response.status_code == 200, response.text
    body = response.json()
    out = {o["name"]: np.reshape(o["data"], o["shape"]) for o in body["outputs"]}
    np.testing.assert_allclose(out["attributions"], expected.attributions, atol=1e-9)
    np.testing.assert_allclose(out["base_value"], expected.base_value, atol=1e-12)
    assert body["parameters"]["feature_names"][-1] == "group"
    assert body["parameters"]["target_name"] == "approve" and body["parameters"]["coalitions"] == 1024
    assert body["parameters"]["efficiency_max_abs_error"] < 1e-9
