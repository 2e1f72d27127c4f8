"""``steward models publish`` against a moto server: the stage's stack outputs in CloudFormation,
its artifacts bucket in S3, the registry in DynamoDB, the command's own audit record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from steward import cli
from steward.adapters.registry_store import DynamoRegistryStore
from steward.resources import ResourceNames

from .conftest import REGION, STAGE

pytestmark = pytest.mark.integration

ENDPOINT = f"steward-{STAGE}-inference"
BUCKET = ResourceNames(STAGE).artifacts_bucket


@pytest.fixture(scope="module")
def stage_stack(moto_endpoint: str) -> Iterator[str]:
    """A ``Steward-test`` stack with the outputs `cdk.stack.StewardStack` declares (and its bucket)."""
    template = {
        "Resources": {"Artifacts": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}}},
        "Outputs": {
            "ArtifactsBucket": {"Value": {"Ref": "Artifacts"}},
            "InferenceEndpoint": {"Value": ENDPOINT},
        },
    }
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName=f"Steward-{STAGE}", TemplateBody=json.dumps(template))
    yield BUCKET
    cfn.delete_stack(StackName=f"Steward-{STAGE}")


def version_dir(root: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A ``<name>/<version>/`` directory as `gpu_backend.build` writes it (manifest + artifacts)."""
    directory = root / name / version
    directory.mkdir(parents=True)
    for file, data in files.items():
        (directory / file).write_bytes(data)
    manifest = {
        "schema_version": 1,
        "name": name,
        "version": version,
        "task": "tabular-classification",
        "platform": "onnxruntime",
        "model_file": "model.onnx",
        "artifacts": {
            file: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for file, data in files.items()
        },
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 2]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}],
        "batching": {"max_batch_size": 16},
        "card": {"description": "test model", "owner": "ml-platform"},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return directory


def publish(directory: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = cli.main(["models", "publish", str(directory), "--stage", STAGE, *extra, "--json"])
    return code, json.loads(capsys.readouterr().out)


def keys(bucket: str, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_publish_uploads_verified_files_and_registers_a_pending_sagemaker_version(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a built version directory
    directory = version_dir(tmp_path, "scorer", "1", {"model.onnx": b"onnx-bytes", "background.npy": b"bg"})

    # When it is published to the stage
    code, document = publish(directory, capsys=capsys)

    # Then every file is in the endpoint's repository prefix, byte for byte
    assert code == cli.EXIT_OK, document
    stored = keys(stage_stack, "models/scorer/1/")
    assert stored == {
        "models/scorer/1/model.onnx": b"onnx-bytes",
        "models/scorer/1/background.npy": b"bg",
        "models/scorer/1/manifest.json": (directory / "manifest.json").read_bytes(),
    }
    assert sorted(document["uploaded"]) == ["background.npy", "manifest.json", "model.onnx"]
    # And the registry holds it pending, routed to the stage's endpoint (single-model: no target model)
    version = DynamoRegistryStore(ResourceNames(STAGE).models_table.name, region=REGION).get_model("scorer")
    registered = version.versions["1"]
    assert registered.approval == "pending" and not registered.routable
    assert registered.target.to_dict() == {"kind": "sagemaker", "endpoint_name": ENDPOINT}
    assert registered.artifact_digest == "sha256:" + hashlib.sha256(b"onnx-bytes").hexdigest()
    assert registered.max_batch_size == 16


def test_republishing_identical_content_uploads_nothing_and_keeps_the_registry_state(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a version published once
    directory = version_dir(tmp_path, "again", "3", {"model.onnx": b"same-bytes"})
    assert publish(directory, capsys=capsys)[0] == cli.EXIT_OK
    s3 = boto3.client("s3", region_name=REGION)
    before = s3.head_object(Bucket=stage_stack, Key="models/again/3/model.onnx")["LastModified"]

    # When the same directory is published again
    code, document = publish(directory, capsys=capsys)

    # Then it succeeds without writing anything (no new object version either)
    assert code == cli.EXIT_OK, document
    assert document["uploaded"] == [] and sorted(document["unchanged"]) == ["manifest.json", "model.onnx"]
    assert document["registered"] is False and document["approval"] == "pending"
    after = s3.head_object(Bucket=stage_stack, Key="models/again/3/model.onnx")["LastModified"]
    assert after == before


def test_a_digest_mismatch_is_refused_before_anything_is_uploaded(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a directory whose second artifact was changed after the manifest was written
    directory = version_dir(tmp_path, "tampered", "1", {"a.bin": b"fine", "model.onnx": b"original"})
    (directory / "model.onnx").write_bytes(b"tampered")

    # When it is published
    code, document = publish(directory, capsys=capsys)

    # Then it is refused naming the file, and the bucket and registry are untouched
    assert code != cli.EXIT_OK
    assert document["error"] == "artifact.integrity" and "'model.onnx'" in document["detail"]
    assert keys(stage_stack, "models/tampered/") == {}
    store = DynamoRegistryStore(ResourceNames(STAGE).models_table.name, region=REGION)
    assert store.get_model("tampered").entry is None


def test_a_missing_artifact_is_refused_naming_it(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = version_dir(tmp_path, "partial", "1", {"model.onnx": b"x", "tokenizer.json": b"{}"})
    (directory / "tokenizer.json").unlink()

    code, document = publish(directory, capsys=capsys)

    assert code != cli.EXIT_OK
    assert document["error"] == "artifact.integrity" and "'tokenizer.json'" in document["detail"]
    assert keys(stage_stack, "models/partial/") == {}


def test_different_content_under_a_published_version_is_refused(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a version already in the repository (and in the registry)
    first = version_dir(tmp_path / "a", "fixed", "1", {"model.onnx": b"first build"})
    assert publish(first, capsys=capsys)[0] == cli.EXIT_OK

    # When another build is published under the same name and version
    second = version_dir(tmp_path / "b", "fixed", "1", {"model.onnx": b"second build"})
    code, document = publish(second, capsys=capsys)

    # Then it is refused and the first build stays
    assert code == cli.EXIT_REFUSED
    assert document["error"] == "artifact.conflict"
    assert keys(stage_stack, "models/fixed/1/model.onnx") == {"models/fixed/1/model.onnx": b"first build"}


def test_different_content_already_in_the_bucket_is_refused_even_unregistered(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given other bytes already under the version's prefix (copied by hand, never registered)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stage_stack, Key="models/stray/1/model.onnx", Body=b"someone else's"
    )
    directory = version_dir(tmp_path, "stray", "1", {"model.onnx": b"ours"})

    code, document = publish(directory, capsys=capsys)

    assert code == cli.EXIT_REFUSED and document["error"] == "artifact.conflict"
    assert keys(stage_stack, "models/stray/1/") == {"models/stray/1/model.onnx": b"someone else's"}


@pytest.mark.parametrize("name,version", [("bad name", "1"), ("ok", "v/2"), ("x" * 65, "1"), ("ok", "..")])
def test_bad_model_or_version_names_are_refused(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, version: str
) -> None:
    # Given a manifest naming an unsafe model or version (in a directory of that name, where possible)
    directory = tmp_path / "repo" / "m" / "1"
    directory.mkdir(parents=True)
    (directory / "model.onnx").write_bytes(b"x")
    digest = hashlib.sha256(b"x").hexdigest()
    manifest = {"name": name, "version": version, "model_file": "model.onnx",
                "artifacts": {"model.onnx": {"sha256": digest, "bytes": 1}}}  # fmt: skip
    (directory / "manifest.json").write_text(json.dumps(manifest))

    code, document = publish(directory, capsys=capsys)

    assert code == cli.EXIT_USAGE and document["error"] == "input.invalid"
    assert "name must be" in document["detail"]


def test_a_directory_not_named_as_its_manifest_is_refused(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = version_dir(tmp_path, "named", "1", {"model.onnx": b"x"})
    moved = directory.rename(tmp_path / "named" / "2")

    code, document = publish(moved, capsys=capsys)

    assert code == cli.EXIT_USAGE and document["error"] == "input.invalid"
    assert keys(stage_stack, "models/named/") == {}


def test_another_stage_than_the_cli_targets_is_refused(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = version_dir(tmp_path, "elsewhere", "1", {"model.onnx": b"x"})

    code = cli.main(["models", "publish", str(directory), "--stage", "prod", "--json"])
    document = json.loads(capsys.readouterr().out)

    assert code == cli.EXIT_USAGE and document["error"] == "cli.usage"
    assert "STEWARD_STAGE=prod" in document["detail"]
    assert keys(stage_stack, "models/elsewhere/") == {}


def test_identical_files_copied_in_without_a_digest_are_recognised(
    stage_stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the version's files already in the bucket as a plain copy put them (no checksum, no
    # metadata: the stack's deployment of the built repository, an `aws s3 sync`)
    directory = version_dir(tmp_path, "synced", "1", {"model.onnx": b"built"})
    s3 = boto3.client("s3", region_name=REGION)
    for file in ("model.onnx", "manifest.json"):
        s3.put_object(Bucket=stage_stack, Key=f"models/synced/1/{file}", Body=(directory / file).read_bytes())

    # When the version is published
    code, document = publish(directory, capsys=capsys)

    # Then nothing is uploaded again, and it is registered
    assert code == cli.EXIT_OK, document
    assert document["uploaded"] == [] and document["registered"] is True
