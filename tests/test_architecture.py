"""The architecture rules the code review keeps (docs/design.md §1), checked from the source.

Why a test: an import circle, a method that reaches into the orchestrator, or Ray imported
outside ``testbed/runtime/`` creeps back one line at a time and is invisible in review.
Every import is an edge -- module level, inside functions and under ``if TYPE_CHECKING:``, with no
exemption: a circle hidden behind a lazy import is still a circle a reader has to untangle.  The
packages under ``testbed/`` are layers (docs/design.md §2) and their imports form a DAG too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "testbed"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    """``testbed/a/b.py`` -> ``testbed.a.b``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)

MODULES = {_module_name(p) for p in PACKAGE.rglob("*.py")}


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [node.module or ""] if isinstance(node, ast.ImportFrom) else []


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES
                found.update(submodules)  # ``from pkg import submodule`` needs the submodule, not pkg's own names
                if len(submodules) < len(node.names):
                    found.add(base)
            else:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child])

    visit(tree.body)
    return found


def _graph() -> nx.DiGraph:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in _imports(path):
            if target in modules and target != name:
                graph.add_edge(name, target)
    return graph


def test_no_import_circle_among_testbed_modules() -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert cycles == [], f"import circles: {cycles}"


def test_methods_never_import_the_orchestrator() -> None:
    graph = _graph()
    offenders = {(m, t) for m, t in graph.edges
                 if m.startswith("testbed.methods") and t.startswith("testbed.experiment")}
    lazy = set()
    for path in (PACKAGE / "methods").rglob("*.py"):
        text = path.read_text()
        for banned in ("testbed.experiment",):
            if f"from {banned} import" in text or f"import {banned}" in text:
                lazy.add((_module_name(path), banned))
    assert offenders == set() and lazy == set(), f"methods importing the orchestrator: {offenders | lazy}"


def test_only_the_runtime_imports_ray() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "runtime" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if any(n == "ray" or n.startswith("ray.") for n in _names(node)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_module_over_the_line_limit() -> None:
    long = {str(p.relative_to(ROOT)): n for p in [*PACKAGE.rglob("*.py"), *(ROOT / "analysis").rglob("*.py")]
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_every_module_says_why() -> None:
    missing = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
               if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []


def _package(module: str) -> str:
    """``testbed.sim.engine`` -> ``testbed.sim``; the root's own modules stand for themselves."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_the_packages_form_a_dag_lazy_imports_included() -> None:
    graph = nx.DiGraph()
    for module, target in _graph().edges:
        if _package(module) != _package(target) and _package(target) != "testbed":
            graph.add_edge(_package(module), _package(target))
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == [], f"packages that import each other (directly or round a circle): {cycles}"


def test_the_top_level_holds_only_layer_packages() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == [], f"modules outside a layer package (put each in core/, sim/, exec/, ...): {loose}"
