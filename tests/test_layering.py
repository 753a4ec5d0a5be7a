"""The import layering, read from the source with `ast`: no module of a package imports itself round a loop.

A cycle makes the import order matter (a module half-initialised when its partner asks for a name), and it
hides the architecture: two modules that import each other are one module in two files. The graph counts
module-level and function-level imports alike, since a lazy import that dodges a cycle still couples both
ends; only ``if TYPE_CHECKING:`` imports are left out, as they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ImportGraph = dict[str, set[str]]


def _module_name(path: Path, package_dir: Path) -> str:
    """``orchestrator/emulator/_core.py`` -> ``orchestrator.emulator._core``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: any depth (functions, classes, try), but not under TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` names, its dots resolved against ``module``."""
    if node.level == 0:
        return node.module or ""
    # Relative to the package holding the module (a package's own __init__ is its own anchor).
    anchor = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _is_module(root: Path, module: str) -> bool:
    """Whether ``module`` is a first-party module: a file or package under the source ``root``."""
    path = root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph(package_dir: Path) -> ImportGraph:
    """``{module: first-party modules it imports}`` for every module of the package at ``package_dir``.

    Relative imports are resolved; ``from pkg import name`` counts as an import of ``pkg.name`` when that is a
    module, else of ``pkg``. Edges to other packages beside this one (under the same source root, e.g.
    ``actors`` for ``orchestrator``) are kept and the standard library and third-party ones dropped, so the
    graphs of two packages merged (``graph_a | graph_b``) show the imports between them and their cycles.
    """
    package_dir = package_dir.resolve()
    root = package_dir.parent
    files = {_module_name(path, package_dir): path for path in sorted(package_dir.rglob("*.py"))}
    graph: ImportGraph = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve_from(node, module, is_package)
                targets = [
                    f"{base}.{alias.name}" if _is_module(root, f"{base}.{alias.name}") else base for alias in node.names
                ]
            edges.update(target for target in targets if target != module and _is_module(root, target))
        graph[module] = edges
    return graph


def find_cycle(graph: ImportGraph) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None when the graph has none (depth-first, iterative)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return [*path[path.index(following):], following]
            elif not state.get(following) and following in graph:
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph[following])))
    return None


def test_the_graph_resolves_relative_and_function_level_imports(tmp_path: Path) -> None:
    """The builder sees what the package's modules really import, and ignores TYPE_CHECKING blocks."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from ._a import thing\n")
    (package / "_b.py").write_text("def late():\n    from pkg._a import thing\n")
    (package / "_d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import _a\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "_c.py").write_text("from .. import thing\nfrom ..sub import _e\n")
    (package / "sub" / "_e.py").write_text("")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "__init__.py").write_text("")
    (tmp_path / "other" / "_f.py").write_text("from pkg import _b\n")
    (package / "_a.py").write_text("from . import _b\nfrom .sub import _c\nimport os\nimport other._f\nthing = 1\n")
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg._a"},
        "pkg._a": {"pkg._b", "pkg.sub._c", "other._f"},
        "pkg._b": {"pkg._a"},
        "pkg._d": set(),
        "pkg.sub": set(),
        "pkg.sub._c": {"pkg", "pkg.sub._e"},
        "pkg.sub._e": set(),
    }
    assert find_cycle(graph) == ["pkg._a", "pkg._b", "pkg._a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None
    # Merged with a sibling package's graph, a loop through both packages shows.
    merged = import_graph(tmp_path / "other") | {"pkg._a": {"other._f"}, "pkg._b": set()}
    assert merged["other._f"] == {"pkg._b"} and find_cycle(merged) is None
    assert find_cycle(merged | {"pkg._b": {"pkg._a"}}) == ["other._f", "pkg._b", "pkg._a", "other._f"]


def test_orchestrator_has_no_import_cycle() -> None:
    """No module of `orchestrator` (its emulator included) imports itself through others."""
    cycle = find_cycle(import_graph(ROOT / "orchestrator"))
    assert cycle is None, "import cycle in orchestrator: " + " -> ".join(cycle or [])


def _imported_names(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in the file, type-only ones included, relative ones resolved to absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            found.append((node.lineno, ".".join([*anchor, *([node.module] if node.module else [])])))
    return found


def test_the_engine_imports_nothing_from_the_product() -> None:
    """`actors` is the engine: it reaches the product only through the ports it defines (actors/_ports.py),
    never by importing `orchestrator`, not even for type hints."""
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "actors").rglob("*.py"))
        for line, module in _imported_names(path)
        if module == "orchestrator" or module.startswith("orchestrator.")
    ]
    assert not offences, "\n".join(offences)


def test_no_import_cycle_across_the_two_packages() -> None:
    """The engine and the product together have no import cycle (the product builds the engine, not back)."""
    graph = import_graph(ROOT / "actors") | import_graph(ROOT / "orchestrator")
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_tests_mirror_the_package_tree() -> None:
    """``tests/`` holds the product's top-level modules' tests, one folder per sub-package, and ``actors/`` for the engine.

    Besides those, only ``tests/bench`` (smoke runs of the benchmark suite) may exist.
    """
    tests = ROOT / "tests"
    folders = {path.name for path in tests.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    packages = {path.parent.name for path in (ROOT / "orchestrator").glob("*/__init__.py")}
    assert folders == packages | {"actors", "bench"}
