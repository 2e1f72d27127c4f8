"""The dependency rules a newcomer can check, read from the source with `ast` (nothing imported).

- The layer (``layers/``) never imports ``functions``, ``tests``, ``scripts`` (the local stack
  lives in ``scripts.local``): functions import steward, never the reverse.
- Only ``steward/adapters/`` and ``steward/bootstrap.py`` import boto3 or botocore, in the layer
  and in ``functions/`` alike: use cases see ports, never AWS clients.
- A function never imports another function's package (api, authorizer, fairness_report,
  audit_archiver each ship alone; what they share lives in the layer).

Every import counts, also one inside a function or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER = Path("layers/steward/python")
FUNCTIONS = Path("functions")
#: Top-level packages the layer must never reach.
NOT_FROM_LAYER = ("functions", "tests", "scripts")
AWS_SDK = ("boto3", "botocore")
#: Where the AWS SDK may be imported, relative to the layer root.
AWS_ALLOWED = ("steward/adapters/", "steward/bootstrap.py")


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def layer_violations(root: Path) -> list[str]:
    """Imports in the layer under ``root`` that break the layer's two rules."""
    found = []
    for path in sorted((root / LAYER).rglob("*.py")):
        relative = path.relative_to(root / LAYER)
        for line, name in imports_of(path, relative):
            where = f"{LAYER / relative}:{line} imports {name}"
            if _top(name) in NOT_FROM_LAYER:
                found.append(where)
            if _top(name) in AWS_SDK and not relative.as_posix().startswith(AWS_ALLOWED):
                found.append(where)
    return found


def function_violations(root: Path) -> list[str]:
    """Imports in ``functions/`` of the AWS SDK, or of another function's package."""
    found = []
    for path in sorted((root / FUNCTIONS).rglob("*.py")):
        relative = path.relative_to(root)
        own = relative.parts[1] if len(relative.parts) > 2 else None  # functions/<own>/...
        for line, name in imports_of(path, relative):
            where = f"{relative}:{line} imports {name}"
            if _top(name) in AWS_SDK:
                found.append(where)
            parts = name.split(".")
            if parts[0] == "functions" and len(parts) > 1 and parts[1] != own:
                found.append(where)
    return found


def imports_of(path: Path, relative: Path) -> Iterator[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``path``, relative imports resolved
    against its package, named by ``relative`` (``from .. import deps`` in
    functions/api/routes/oip.py -> ``functions.api``)."""
    package = list(relative.parent.parts)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join([*anchor, node.module] if node.module else anchor)
            else:
                yield node.lineno, node.module or ""


# --- the repository keeps the rules --------------------------------------------------------------


def test_the_layer_imports_no_function_test_script_or_local_stack_and_aws_only_in_adapters() -> None:
    assert layer_violations(REPO_ROOT) == []


def test_functions_import_no_other_function_and_no_aws_sdk() -> None:
    assert function_violations(REPO_ROOT) == []


def test_the_rules_read_real_files() -> None:
    """Guard against a rule that passes because it reads nothing."""
    assert len(list((REPO_ROOT / LAYER).rglob("*.py"))) > 50
    assert {p.parent.name for p in (REPO_ROOT / FUNCTIONS).rglob("handler.py")} >= {
        "api",
        "authorizer",
        "fairness_report",
        "audit_archiver",
    }


# --- and each rule fails on a tree that breaks it ---------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("steward/catalog/service.py", "from functions.api.deps import Context\n"),
        ("steward/admin.py", "def f():\n    from tests.fakes import InMemoryKeyStore\n"),
        ("steward/cli.py", "import scripts.local.stack\n"),
        ("steward/routing/router.py", "from botocore.exceptions import ClientError\n"),
        ("steward/inference/service.py", "import boto3\n"),
        (
            "steward/audit/reader.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import boto3\n",
        ),
    ],
)
def test_a_layer_module_breaking_a_rule_is_reported(tmp_path: Path, name: str, text: str) -> None:
    root = _tree(tmp_path, {f"{LAYER}/{name}": text})
    assert layer_violations(root) == [f"{LAYER}/{name}:{text.count(chr(10))} imports " + _name(text)]


@pytest.mark.parametrize(
    "name", ["steward/adapters/key_store.py", "steward/adapters/sub/x.py", "steward/bootstrap.py"]
)
def test_adapters_and_bootstrap_may_import_boto3(tmp_path: Path, name: str) -> None:
    root = _tree(tmp_path, {f"{LAYER}/{name}": "import boto3\nfrom botocore.config import Config\n"})
    assert layer_violations(root) == []


@pytest.mark.parametrize(
    ("name", "text", "bad"),
    [
        ("functions/api/app.py", "from functions.authorizer.handler import authorize_event\n", True),
        ("functions/authorizer/handler.py", "import functions.api.problems\n", True),
        ("functions/fairness_report/handler.py", "from functions.api import deps\n", True),
        ("functions/api/handler.py", "import boto3\n", True),
        ("functions/api/routes/oip.py", "from .. import deps\n", False),  # its own package
        ("functions/api/routes/admin.py", "from functions.api.deps import Context\n", False),
    ],
)
def test_a_function_importing_another_function_or_the_sdk_is_reported(
    tmp_path: Path, name: str, text: str, bad: bool
) -> None:
    root = _tree(tmp_path, {name: text})
    assert bool(function_violations(root)) is bad


def _name(text: str) -> str:
    last = text.strip().splitlines()[-1].strip()
    return last.split()[1]
