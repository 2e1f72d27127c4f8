"""What the Lambda assets hold: each function's code and the steward layer, as CDK stages them.

The local stack, the API Gateway emulator, the in-memory fakes, benchmarks and the model build are
development code: they live under ``scripts/``, ``tests/`` and ``gpu_backend/``, and neither ship
nor are imported by anything that does. Reading the staged assets (not the source tree) checks the
exclude rules CDK actually applied, including any untracked file lying in a shipped folder.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

#: Words that mark development code in a path or a module name (``steward/local/``,
#: ``testing.py``, ``local_gateway.py``, ``bench_gateway``, ``gpu_backend/build``, ...).
DEV_WORDS = frozenset({"local", "testing", "test", "tests", "fakes", "conftest", "scripts", "bench", "build"})
#: Top-level packages that exist in the repository but never in a Lambda.
NOT_IN_LAMBDA = frozenset({"tests", "scripts", "gpu_backend", "cdk"})
HANDLERS = {
    "functions/api/handler.py",
    "functions/authorizer/handler.py",
    "functions/fairness_report/handler.py",
    "functions/batch_worker/handler.py",
    "functions/audit_archiver/handler.py",
}


def _words(name: str) -> set[str]:
    return set(re.split(r"[/._-]", name))


def dev_paths(files: set[str]) -> list[str]:
    """Files whose path names development code."""
    return sorted(f for f in files if _words(f) & DEV_WORDS)


def dev_imports(files: dict[str, str]) -> list[str]:
    """``file: module`` for each import of development code or of a package no Lambda holds."""
    found = []
    for name, source in files.items():
        for node in ast.walk(ast.parse(source, filename=name)):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            found += [
                f"{name}: {module}"
                for module in modules
                if module.split(".")[0] in NOT_IN_LAMBDA or _words(module) & DEV_WORDS
            ]
    return sorted(found)


def _assembly(synth: Synth) -> tuple[Path, dict[str, Any]]:
    outdir = Path(synth.app.synth().directory)
    files: dict[str, Any] = {}
    for manifest in outdir.glob("*.assets.json"):
        files.update(json.loads(manifest.read_text()).get("files", {}))
    return outdir, files


def _staged(outdir: Path, files: dict[str, Any], s3_key: Any) -> dict[str, Path]:
    """The files of the zip asset behind ``s3_key`` (``<hash>.zip``), by their path in the zip."""
    assert isinstance(s3_key, str) and s3_key.endswith(".zip"), s3_key
    source = files[s3_key.removesuffix(".zip")]["source"]
    assert source["packaging"] == "zip", source
    root = outdir / source["path"]
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def function_assets(synth: Synth) -> dict[str, dict[str, Path]]:
    """Each Steward function's handler -> the files of its code asset."""
    outdir, files = _assembly(synth)
    return {
        props["Handler"]: _staged(outdir, files, props["Code"]["S3Key"])
        for props in (r["Properties"] for r in synth.resources("AWS::Lambda::Function").values())
        if str(props.get("Handler", "")).startswith("functions.")
    }


def steward_layer_asset(synth: Synth) -> dict[str, Path]:
    """The files of the steward (domain package) layer's asset."""
    outdir, files = _assembly(synth)
    layer_id = synth.logical_id(synth.stack.layers.steward)
    content = synth.resources("AWS::Lambda::LayerVersion")[layer_id]["Properties"]["Content"]
    return _staged(outdir, files, content["S3Key"])


def _sources(asset: dict[str, Path]) -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in asset.items() if name.endswith(".py")}


def test_each_function_asset_holds_the_functions_package_only(synth: Synth) -> None:
    # Given every Steward function's code asset as `cdk synth` stages it
    assets = function_assets(synth)
    assert set(assets) == {h.replace("/", ".").removesuffix(".py") + ".handler" for h in HANDLERS}
    for handler, asset in assets.items():
        files = set(asset)
        # Then it holds the handlers, under functions/ only, and no development code
        assert files >= HANDLERS, handler
        assert {f for f in files if not f.startswith("functions/")} == set(), handler
        assert dev_paths(files) == [], handler
        # And nothing in it imports code that stays in the repository
        assert dev_imports(_sources(asset)) == [], handler


def test_the_steward_layer_holds_the_domain_package_only(synth: Synth) -> None:
    # Given the steward layer's asset as `cdk synth` stages it
    asset = steward_layer_asset(synth)
    files = set(asset)
    # Then it is the steward package (python/steward, where Lambda's runtime finds it)
    assert {"python/steward/__init__.py", "python/steward/errors.py"} <= files
    assert {f for f in files if not f.startswith("python/steward/")} == set()
    # And holds no local stack, fakes, benchmark or build code, and imports none
    assert dev_paths(files) == []
    assert dev_imports(_sources(asset)) == []


def test_the_checks_catch_what_used_to_ship() -> None:
    # Given the development modules the assets held before they moved out
    shipped_before = {
        "python/steward/local/stack.py",
        "python/steward/testing.py",
        "functions/api/local_gateway.py",
        "python/steward/cli.py",
    }
    # Then each is named (and the CLI, which ships, is not)
    assert dev_paths(shipped_before) == [
        "functions/api/local_gateway.py",
        "python/steward/local/stack.py",
        "python/steward/testing.py",
    ]
    # And so are imports of them, or of anything that stays in the repository
    sources = {
        "a.py": "from steward.local.client_config import load\nimport json",
        "b.py": "from tests.fakes import FakeTransport\nfrom steward.errors import StewardError",
        "c.py": "import scripts.local.api_gateway\nfrom .local import x",
    }
    assert dev_imports(sources) == [
        "a.py: steward.local.client_config",
        "b.py: tests.fakes",
        "c.py: scripts.local.api_gateway",
    ]
