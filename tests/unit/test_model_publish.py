"""The publish order (`steward.catalog.publish`) and the S3 store's own digest check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from steward.adapters.object_store import S3ArtifactStore
from steward.catalog.publish import ArtifactIntegrity, Publisher, check_name, read_version_directory
from steward.errors import InvalidInput


class CorruptingStore:
    """Stores whatever it is given, but reports the digest of other bytes for ``model.onnx``."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}

    def stored_sha256(self, key: str) -> str | None:
        return self.objects.get(key)

    def upload(self, key: str, source: Path | bytes, sha256: str) -> str:
        stored = hashlib.sha256(b"damaged in transit").hexdigest() if key.endswith("model.onnx") else sha256
        self.objects[key] = stored
        return stored


def built(root: Path, files: dict[str, bytes]) -> Path:
    directory = root / "m" / "1"
    directory.mkdir(parents=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    artifacts = {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for n, d in files.items()}
    manifest = {"name": "m", "version": "1", "model_file": "model.onnx", "artifacts": artifacts}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_an_upload_stored_with_another_digest_stops_before_the_manifest(tmp_path: Path) -> None:
    # Given a store that keeps other bytes than it was sent for the model file
    store = CorruptingStore()
    version = read_version_directory(built(tmp_path, {"model.onnx": b"weights"}))

    # When the version is published / Then it fails, and the manifest (written last) is never stored
    with pytest.raises(ArtifactIntegrity, match=r"model\.onnx"):
        Publisher(store).publish(version)
    assert "models/m/1/manifest.json" not in store.objects


def test_the_s3_store_confirms_an_upload_by_what_it_holds_not_by_its_own_claim() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts-test")
        store = S3ArtifactStore("artifacts-test", region="us-east-1", client=s3)
        claimed = hashlib.sha256(b"expected").hexdigest()

        # When bytes other than the claimed digest's are put (S3 itself refuses with BadDigest)
        reported = store.upload("models/m/1/model.onnx", b"different", claimed)

        # Then the digest reported back is that of what is stored, so the publisher refuses it
        assert reported == hashlib.sha256(b"different").hexdigest() != claimed
        assert store.stored_sha256("models/m/1/absent") is None


@pytest.mark.parametrize("name", ["", ".", "..", "a b", "a/b", "é", "x" * 65, "m@1"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_name(name, "model")


@pytest.mark.parametrize("name", ["all-minilm-l6-v2", "credit_risk", "v1.2", "1", "x" * 64])
def test_conservative_names_pass(name: str) -> None:
    assert check_name(name, "model") == name


def test_an_artifact_path_leaving_the_directory_is_refused(tmp_path: Path) -> None:
    directory = built(tmp_path, {"model.onnx": b"w"})
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["artifacts"]["../../secret"] = {"sha256": "0" * 64, "bytes": 1}
    (directory / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(InvalidInput, match="inside the version directory"):
        read_version_directory(directory)
