"""gpu_backend's import graph (read with `ast`, nothing imported): no cycle, and the served code never
reaches the model build or the benchmark, which the serving image does not hold.

Every import counts, also one inside a function or under TYPE_CHECKING: a lazy import hides a cycle
from the interpreter, not from a reader (the old `models` <-> `token_classifier` cycle was one).
A package's `__init__` importing its own submodules is not a cycle: the interpreter initialises a
parent before its children, so the implied child -> parent edge is left out of the cycle check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Development code the image leaves out (gpu_backend/Dockerfile.dockerignore).
DEV_ONLY = ("gpu_backend.build", "gpu_backend.bench")
#: Where the serving process starts (`python -m gpu_backend serve`, the image's entry point).
ENTRY = "gpu_backend.__main__"

Graph = dict[str, set[str]]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every `.py` under the package directory `root`."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: Iterable[str]) -> str | None:
    """The longest module of the package that `name` is or lies in (None: another distribution)."""
    known = set(modules)
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules `module` imports anywhere in its file (relative imports resolved)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule when there is one, else a name of pkg.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            target = _known(name, modules)
            if target is not None and target != module:
                found.add(target)
    return found


def import_graph(root: Path, package: str) -> Graph:
    modules = module_names(root, package)
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle as `[a, b, ..., a]`, or None (depth-first search, three colours)."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return None

    for node in sorted(graph):
        if node not in done:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def reachable(graph: Graph, start: str) -> set[str]:
    """Modules loaded when `start` runs: its imports, transitively, and every parent package."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parents = [module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)]
        todo.extend([*graph.get(module, ()), *(p for p in parents if p in graph)])
    return seen


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_gpu_backend_has_no_import_cycle() -> None:
    # Given every module of gpu_backend, served or development
    graph = import_graph(REPO_ROOT / "gpu_backend", "gpu_backend")
    assert "gpu_backend.models.base" in graph and graph["gpu_backend.models"]  # the walk saw the tree
    # Then no module reaches itself through its imports
    assert find_cycle(graph) is None


def test_the_served_modules_never_reach_build_or_benchmark_code() -> None:
    # Given what the serving process loads from its entry point
    graph = import_graph(REPO_ROOT / "gpu_backend", "gpu_backend")
    served = reachable(graph, ENTRY)
    assert {"gpu_backend.server", "gpu_backend.models.token_classifier"} <= served
    # Then none of it is code the image leaves out
    assert sorted(m for m in served if m.startswith(DEV_ONLY)) == []


def test_a_lazy_import_back_is_a_cycle_and_a_package_gathering_its_children_is_not(tmp_path: Path) -> None:
    # Given a package whose __init__ gathers its submodules, and two modules importing each other,
    # one of them only inside a function (as models.py and token_classifier.py once did)
    _write(
        tmp_path / "pkg",
        {
            "__init__.py": "from pkg.kinds import Kind\n",
            "kinds/__init__.py": "from .base import Base\nfrom . import text\n",
            "kinds/base.py": "import numpy\n\ndef pick():\n    from pkg.kinds.text import Text\n",
            "kinds/text.py": "from pkg.kinds.base import Base\nfrom ..dev import tool\n",
            "dev.py": "tool = 1\n",
        },
    )
    graph = import_graph(tmp_path / "pkg", "pkg")
    # Then the relative and absolute imports resolve to modules of the package
    assert graph["pkg.kinds"] == {"pkg.kinds.base", "pkg.kinds.text"}
    assert graph["pkg.kinds.text"] == {"pkg.kinds.base", "pkg.dev"}
    # And the lazy import back is reported as the cycle it is
    assert find_cycle(graph) == ["pkg.kinds.base", "pkg.kinds.text", "pkg.kinds.base"]
    # And reachability follows imports and parent packages
    assert reachable(graph, "pkg.kinds.text") >= {"pkg", "pkg.kinds", "pkg.dev"}
    # When the lazy import goes, so does the cycle
    _write(tmp_path / "pkg", {"kinds/base.py": "import numpy\n"})
    assert find_cycle(import_graph(tmp_path / "pkg", "pkg")) is None
