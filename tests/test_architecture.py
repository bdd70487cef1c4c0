"""The package's shape: stage packages import one way (docs/ARCHITECTURE.md), and no module cycle.

Reads every module under `pipeline/` with `ast` (function-level imports included, since a lazy import
is still a dependency) and fails on an import that goes up the stage order, sideways between two
stages of one rank, or round in a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"

# Lower ranks are imported by higher ones, never the other way round. Stages of one rank (facts and
# index) do not import each other: whoever needs both passes one to the other.
RANKS: dict[str, int] = {
    "": 0,            # pipeline/__init__.py, models.py, errors.py, fsutil.py, procutil.py: the shared nouns
    "profile": 1,
    "reading": 2,
    "facts": 3,
    "index": 3,
    "drafting": 4,
    "output": 5,
    "batch": 6,
    "web": 7,
    "cli": 8,
}
ROOT_MODULES = {"pipeline", "pipeline.models", "pipeline.errors", "pipeline.fsutil", "pipeline.procutil"}


def _module_name(path: Path) -> str:
    parts = ("pipeline",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of `pipeline` that `name` imports anywhere in its body (resolved to known modules)."""
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pipeline.reading import segment` imports the module pipeline.reading.segment
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        for target in targets:
            if not target.startswith("pipeline"):
                continue
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                out.add(target)
    return out


def _stage(module: str) -> str:
    if module in ROOT_MODULES:
        return ""
    return module.split(".")[1]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_every_module_belongs_to_a_stage(graph: dict[str, set[str]]) -> None:
    unplaced = sorted(m for m in graph if _stage(m) not in RANKS)
    assert not unplaced, f"modules outside the stage packages of docs/ARCHITECTURE.md: {unplaced}"


def test_imports_flow_down_the_stages(graph: dict[str, set[str]]) -> None:
    wrong = []
    for module, deps in graph.items():
        here = _stage(module)
        for dep in deps:
            there = _stage(dep)
            if there == here:
                continue
            if RANKS[there] >= RANKS[here]:
                wrong.append(f"{module} → {dep} ({here or 'root'} {RANKS[here]} → {there or 'root'} {RANKS[there]})")
    assert not wrong, "imports against the stage order:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}          # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    # A package's __init__ importing its own submodule is how a package re-exports; not a cycle
    # unless the submodule imports the package back, which the DFS would show as a longer loop.
    real = [c for c in cycles if not (len(c) == 3 and c[1].startswith(c[0] + "."))]
    assert not real, "import cycles:\n" + "\n".join(" → ".join(c) for c in real)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule is not vacuous: a facts module importing drafting is caught."""
    source = tmp_path / "probe.py"
    source.write_text("from pipeline.drafting.draft import draft_report\n", encoding="utf-8")
    known = set(_modules())
    deps = _imports("pipeline.facts.probe", source, known)
    assert deps == {"pipeline.drafting.draft"}
    assert RANKS[_stage("pipeline.drafting.draft")] > RANKS[_stage("pipeline.facts.probe")]
