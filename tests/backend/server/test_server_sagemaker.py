"""The SageMaker container contract: GET /ping, POST /invocations with an OIP JSON body."""

from __future__ import annotations

from pathlib import Path

from server_helpers import cpu_settings, features_request, wait_until_loaded
from starlette.testclient import TestClient
from tiny_models import write_tabular

from gpu_backend.server import create_app

ROW = [[0.5, -1.0, 2.0, 0.0]]


def test_ping_is_200_with_an_empty_body_when_ready(client: TestClient) -> None:
    # Given a loaded server
    # When SageMaker pings
    response = client.get("/ping")
    # Then 200 with no body
    assert response.status_code == 200
    assert response.content == b""


def test_invocations_routes_by_the_target_model_header(client: TestClient) -> None:
    # Given the target model in SageMaker's header, with and without a version
    # When invoked
    latest = client.post(
        "/invocations", json=features_request(ROW), headers={"X-Amzn-SageMaker-Target-Model": "tiny-tabular"}
    )
    pinned = client.post(
        "/invocations",
        json=features_request(ROW),
        headers={"X-Amzn-SageMaker-Target-Model": "tiny-tabular/1"},
    )
    # Then the OIP response comes from that model and version
    assert latest.status_code == 200, latest.text
    assert (latest.json()["model_name"], latest.json()["model_version"]) == ("tiny-tabular", "2")
    assert pinned.json()["model_version"] == "1"


def test_invocations_routes_by_model_name_in_the_body(client: TestClient) -> None:
    # Given model_name and model_version in the body
    body = features_request(ROW, model_name="tiny-tabular", model_version="1", id="sm-1")
    # When invoked
    response = client.post("/invocations", json=body)
    # Then that model answers and the id is echoed
    assert response.status_code == 200, response.text
    assert (response.json()["model_version"], response.json()["id"]) == ("1", "sm-1")


def test_invocations_without_a_target_on_a_multi_model_server_is_400(client: TestClient) -> None:
    # Given several models and no target
    # When invoked
    response = client.post("/invocations", json=features_request(ROW))
    # Then 400 explains how to name the model
    assert response.status_code == 400
    assert "X-Amzn-SageMaker-Target-Model" in response.json()["error"]


def test_invocations_unknown_target_is_404(client: TestClient) -> None:
    # Given a target model that does not exist
    # When invoked
    response = client.post(
        "/invocations", json=features_request(ROW), headers={"X-Amzn-SageMaker-Target-Model": "ghost"}
    )
    # Then 404
    assert response.status_code == 404
    assert "unknown model 'ghost'" in response.json()["error"]


def test_a_single_model_endpoint_needs_no_target(tmp_path: Path) -> None:
    # Given a repository with one model (a classic single-model SageMaker endpoint)
    write_tabular(tmp_path)
    with TestClient(create_app(cpu_settings(tmp_path))) as client:
        wait_until_loaded(client)
        # When invoked without a target
        response = client.post("/invocations", json=features_request(ROW))
    # Then that model answers
    assert response.status_code == 200, response.text
    assert response.json()["model_name"] == "tiny-tabular"


def test_ping_is_503_while_models_are_loading(tiny_repository: Path) -> None:
    # Given an app whose lifespan has not run yet (nothing loaded)
    app = create_app(cpu_settings(tiny_repository))
    from gpu_backend.dataplane import DataPlane
    from gpu_backend.metrics import Metrics

    app.state.dataplane = DataPlane(cpu_settings(tiny_repository), tiny_repository, Metrics())
    client = TestClient(app)  # no context manager: lifespan does not start
    # When SageMaker pings and OIP readiness is checked
    # Then the container says it is not ready yet, but it is live
    assert client.get("/ping").status_code == 503
    assert client.get("/v2/health/ready").status_code == 400
    assert client.get("/v2/health/live").status_code == 200
