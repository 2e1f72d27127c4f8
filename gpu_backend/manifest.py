"""Manifest types and parsing: what one `<name>/<version>/manifest.json` says, validated.

A manifest that does not validate raises `ModelLoadError` naming the first problem found, with a
reason a person can act on. Finding version directories and checking artifact digests is
`gpu_backend.repository`'s job; this module only reads and validates the document.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gpu_backend.errors import ModelLoadError

MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1
DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
     "FP64", "BYTES"}
)  # fmt: skip
PREPROCESSING_KINDS = frozenset({"none", "bert-tokenizer"})
POSTPROCESSING_KINDS = frozenset({"none", "graph-output", "token-spans"})
ENSEMBLE_KINDS = frozenset({"spacy-ner"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION_RE = re.compile(r"^[1-9][0-9]{0,8}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as the protocol exposes it; -1 marks a variable dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def as_metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Artifact:
    sha256: str
    size: int


@dataclass(frozen=True)
class BatchingConfig:
    """Triton-style dynamic batching knobs for one model version."""

    max_batch_size: int = 1
    max_queue_delay_ms: float = 0.0
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_size: int = 1024
    request_timeout_ms: float = 10_000.0
    sequence_buckets: tuple[int, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A validated `manifest.json` (schema_version 1, see docs/contracts.md)."""

    name: str
    version: str
    task: str
    platform: str
    model_file: str
    fp16_model_file: str | None
    artifacts: dict[str, Artifact]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    preprocessing: dict[str, Any]
    postprocessing: dict[str, Any]
    batching: BatchingConfig
    allow_non_finite: bool
    approval: str
    card: dict[str, Any] = field(default_factory=dict)
    explain: dict[str, Any] | None = None

    @property
    def batchable(self) -> bool:
        """Inputs carry a leading batch dimension (-1), so requests can be stacked."""
        return all(spec.shape and spec.shape[0] == -1 for spec in self.inputs)


@dataclass(frozen=True)
class ModelSource:
    """A `<name>/<version>` directory found in the repository (not yet validated)."""

    name: str
    version: str
    path: Path


def _fail(where: str, problem: str) -> ModelLoadError:
    return ModelLoadError(f"malformed manifest: {where} {problem}")


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if key not in data:
        raise _fail(f"{where}{key!r}", "is missing")
    value = data[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _fail(f"{where}{key!r}", f"must be {_kind_name(kind)}, got a boolean")
    if not isinstance(value, kind):
        raise _fail(f"{where}{key!r}", f"must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", dict: "an object", list: "a list",
             bool: "a boolean"}  # fmt: skip
    if isinstance(kind, tuple):
        return (
            "a number" if set(kind) == {int, float} else " or ".join(names.get(k, k.__name__) for k in kind)
        )
    return names.get(kind, kind.__name__)


def _artifact_name(name: str, where: str) -> str:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise _fail(where, f"artifact path {name!r} must be relative and inside the version directory")
    return name


def _tensor_specs(raw: Any, where: str) -> tuple[TensorSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(repr(where), "must be a non-empty list")
    specs: list[TensorSpec] = []
    for i, item in enumerate(raw):
        loc = f"{where}[{i}]."
        if not isinstance(item, dict):
            raise _fail(f"{where}[{i}]", "must be an object")
        name = _require(item, "name", str, loc)
        datatype = _require(item, "datatype", str, loc)
        if datatype not in DATATYPES:
            raise _fail(f"{loc}'datatype'", f"{datatype!r} is not one of {sorted(DATATYPES)}")
        shape = _require(item, "shape", list, loc)
        if not shape or not all(
            isinstance(d, int) and not isinstance(d, bool) and (d == -1 or d > 0) for d in shape
        ):
            raise _fail(f"{loc}'shape'", "must be a non-empty list of positive integers or -1")
        specs.append(TensorSpec(name=name, datatype=datatype, shape=tuple(shape)))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise _fail(repr(where), f"has duplicate names {names}")
    return tuple(specs)


def _positive_ints(raw: Any, where: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw
    ):
        raise _fail(where, "must be a list of positive integers")
    if list(raw) != sorted(set(raw)):
        raise _fail(where, "must be strictly ascending")
    return tuple(raw)


def _batching(raw: Any, batchable: bool) -> BatchingConfig:
    if raw is None:
        return BatchingConfig()
    if not isinstance(raw, dict):
        raise _fail("'batching'", "must be an object")
    loc = "batching."
    defaults = BatchingConfig()
    max_batch = (
        _require(raw, "max_batch_size", int, loc) if "max_batch_size" in raw else defaults.max_batch_size
    )
    delay = _require(raw, "max_queue_delay_ms", (int, float), loc) if "max_queue_delay_ms" in raw else 0.0
    queue = _require(raw, "max_queue_size", int, loc) if "max_queue_size" in raw else defaults.max_queue_size
    timeout = (
        _require(raw, "request_timeout_ms", (int, float), loc)
        if "request_timeout_ms" in raw
        else defaults.request_timeout_ms
    )
    preferred = _positive_ints(raw.get("preferred_batch_sizes", []), "'batching.preferred_batch_sizes'")
    buckets = _positive_ints(raw.get("sequence_buckets", []), "'batching.sequence_buckets'")
    if max_batch < 1:
        raise _fail("'batching.max_batch_size'", "must be >= 1")
    if max_batch > 1 and not batchable:
        raise _fail("'batching.max_batch_size'", "must be 1 when an input has a fixed leading dimension")
    if delay < 0:
        raise _fail("'batching.max_queue_delay_ms'", "must be >= 0")
    if queue < 1:
        raise _fail("'batching.max_queue_size'", "must be >= 1")
    if timeout <= 0:
        raise _fail("'batching.request_timeout_ms'", "must be > 0")
    if preferred and preferred[-1] > max_batch:
        raise _fail("'batching.preferred_batch_sizes'", f"must not exceed max_batch_size {max_batch}")
    return BatchingConfig(
        max_batch_size=max_batch,
        max_queue_delay_ms=float(delay),
        preferred_batch_sizes=preferred,
        max_queue_size=queue,
        request_timeout_ms=float(timeout),
        sequence_buckets=buckets,
    )


def _ensemble(block: Any, listed: Any) -> None:
    """``postprocessing.ensemble``: a spaCy NER whose mapped spans are merged with the classifier's."""
    loc = "postprocessing.ensemble."
    if not isinstance(block, dict):
        raise _fail("'postprocessing.ensemble'", "must be an object")
    kind = _require(block, "kind", str, loc)
    if kind not in ENSEMBLE_KINDS:
        raise _fail(f"'{loc}kind'", f"{kind!r} is not one of {sorted(ENSEMBLE_KINDS)}")
    listed(f"{loc}config", _require(block, "config", str, loc))
    listed(f"{loc}pipeline", _require(block, "pipeline", str, loc))
    labels = _require(block, "labels", dict, loc)
    if not labels or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise _fail(f"'{loc}labels'", "must map spaCy labels to entity types (strings)")
    score = _require(block, "score", (int, float), loc)
    if not 0.0 < score <= 1.0:
        raise _fail(f"'{loc}score'", "must be in (0, 1]")
    wins = block.get("classifier_wins", [])
    if not isinstance(wins, list) or not all(isinstance(w, str) for w in wins):
        raise _fail(f"'{loc}classifier_wins'", "must be a list of entity types")


def parse_manifest(data: Any, source: ModelSource | None = None) -> Manifest:
    """Validate a decoded manifest; raise `ModelLoadError` naming the first problem found."""
    if not isinstance(data, dict):
        raise ModelLoadError("malformed manifest: top level must be a JSON object")
    schema = _require(data, "schema_version", int)
    if schema != SCHEMA_VERSION:
        raise _fail("'schema_version'", f"is {schema}, this server reads {SCHEMA_VERSION}")
    name = _require(data, "name", str)
    version = _require(data, "version", str)
    if not _NAME_RE.match(name):
        raise _fail("'name'", f"{name!r} must match {_NAME_RE.pattern}")
    if not _VERSION_RE.match(version):
        raise _fail("'version'", f"{version!r} must be a positive integer string")
    if source is not None and (source.name, source.version) != (name, version):
        raise _fail(
            "'name'/'version'", f"say {name}/{version} but the directory is {source.name}/{source.version}"
        )
    task = _require(data, "task", str)
    platform = _require(data, "platform", str)
    if platform != "onnxruntime":
        raise _fail("'platform'", f"is {platform!r}; this server runs 'onnxruntime' models")

    raw_artifacts = _require(data, "artifacts", dict)
    artifacts: dict[str, Artifact] = {}
    for file_name, entry in raw_artifacts.items():
        loc = f"artifacts[{file_name!r}]."
        _artifact_name(file_name, f"artifacts[{file_name!r}]")
        if not isinstance(entry, dict):
            raise _fail(f"artifacts[{file_name!r}]", "must be an object with sha256 and bytes")
        digest = _require(entry, "sha256", str, loc).lower()
        if not _SHA256_RE.match(digest):
            raise _fail(f"{loc}'sha256'", "must be 64 hex digits")
        size = _require(entry, "bytes", int, loc)
        if size < 0:
            raise _fail(f"{loc}'bytes'", "must be >= 0")
        artifacts[file_name] = Artifact(sha256=digest, size=size)

    def listed(key: str, value: str) -> str:
        _artifact_name(value, repr(key))
        if value not in artifacts:
            raise _fail(repr(key), f"names {value!r}, which is not listed in 'artifacts' with a sha256")
        return value

    model_file = listed("model_file", _require(data, "model_file", str))
    fp16 = data.get("fp16_model_file")
    if fp16 is not None:
        if not isinstance(fp16, str):
            raise _fail("'fp16_model_file'", "must be a string or null")
        listed("fp16_model_file", fp16)

    inputs = _tensor_specs(data.get("inputs"), "inputs")
    outputs = _tensor_specs(data.get("outputs"), "outputs")

    pre = data.get("preprocessing", {"kind": "none"})
    post = data.get("postprocessing", {"kind": "none"})
    for key, block, kinds in (
        ("preprocessing", pre, PREPROCESSING_KINDS),
        ("postprocessing", post, POSTPROCESSING_KINDS),
    ):
        if not isinstance(block, dict):
            raise _fail(repr(key), "must be an object")
        kind = _require(block, "kind", str, f"{key}.")
        if kind not in kinds:
            raise _fail(f"'{key}.kind'", f"{kind!r} is not one of {sorted(kinds)}")
    if pre["kind"] == "bert-tokenizer":
        listed("preprocessing.tokenizer", _require(pre, "tokenizer", str, "preprocessing."))
        max_length = _require(pre, "max_length", int, "preprocessing.")
        if max_length < 2:
            raise _fail("'preprocessing.max_length'", "must be >= 2")
        graph_inputs = _require(pre, "graph_inputs", list, "preprocessing.")
        if (
            not graph_inputs
            or not all(isinstance(g, str) for g in graph_inputs)
            or "input_ids" not in graph_inputs
        ):
            raise _fail("'preprocessing.graph_inputs'", "must be a list of names including 'input_ids'")
        # word_shape: per-token casing, fed by the token-classification kind (uncased encoders).
        unknown = set(graph_inputs) - {"input_ids", "attention_mask", "token_type_ids", "word_shape"}
        if unknown:
            raise _fail("'preprocessing.graph_inputs'", f"has unknown names {sorted(unknown)}")
        if len(inputs) != 1 or inputs[0].datatype != "BYTES" or inputs[0].shape != (-1,):
            raise _fail("'inputs'", "must be one BYTES input of shape [-1] for bert-tokenizer preprocessing")
    if post["kind"] == "graph-output":
        _require(post, "graph_output", str, "postprocessing.")
        if len(outputs) != 1:
            raise _fail("'outputs'", "must have exactly one entry for graph-output postprocessing")
    if post["kind"] == "token-spans":
        _require(post, "graph_output", str, "postprocessing.")
        _require(post, "labels", list, "postprocessing.")
        if pre["kind"] != "bert-tokenizer":
            raise _fail("'postprocessing.kind'", "'token-spans' needs bert-tokenizer preprocessing")
        if len(outputs) != 1 or outputs[0].datatype != "BYTES" or outputs[0].shape != (-1,):
            raise _fail("'outputs'", "must be one BYTES output of shape [-1] for token-spans postprocessing")
        if "ensemble" in post:
            _ensemble(post["ensemble"], listed)
    elif "ensemble" in post:
        raise _fail("'postprocessing.ensemble'", "is only read with 'token-spans' postprocessing")

    manifest_batchable = all(spec.shape[0] == -1 for spec in inputs)
    batching = _batching(data.get("batching"), manifest_batchable)
    allow_non_finite = data.get("allow_non_finite", False)
    if not isinstance(allow_non_finite, bool):
        raise _fail("'allow_non_finite'", "must be a boolean")
    approval = data.get("approval", "unknown")
    if not isinstance(approval, str):
        raise _fail("'approval'", "must be a string")
    card = data.get("card", {})
    if not isinstance(card, dict):
        raise _fail("'card'", "must be an object")
    explain = data.get("explain")
    if explain is not None:
        if not isinstance(explain, dict):
            raise _fail("'explain'", "must be an object")
        if "background" in explain:
            listed("explain.background", _require(explain, "background", str, "explain."))
    return Manifest(
        name=name,
        version=version,
        task=task,
        platform=platform,
        model_file=model_file,
        fp16_model_file=fp16,
        artifacts=artifacts,
        inputs=inputs,
        outputs=outputs,
        preprocessing=dict(pre),
        postprocessing=dict(post),
        batching=batching,
        allow_non_finite=allow_non_finite,
        approval=approval,
        card=card,
        explain=explain,
    )


def read_manifest(source: ModelSource) -> Manifest:
    """Read and validate `manifest.json` of one model version."""
    path = source.path / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"{MANIFEST_FILE} is missing in {source.name}/{source.version}") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read {MANIFEST_FILE}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"malformed manifest: not valid JSON ({exc})") from None
    return parse_manifest(data, source)
