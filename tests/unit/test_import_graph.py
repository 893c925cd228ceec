"""The package's modules import one another without a circle, and so do its folders.

A circle makes the import order matter (a name missing half-way through a partial import) and
makes two concerns one. Read with ``ast`` (nothing is imported), every ``import`` statement
counts, wherever it stands: inside a function (a deferred import only delays the circle to
the first call) and under ``if TYPE_CHECKING:`` (the types still tie the two modules together,
and mypy follows them). ``from package import name`` depends on ``package.name`` when that is
a module, else on the package's ``__init__``; a module's own parent packages are not edges
(Python imports them first anyway, and ``__init__`` re-exporting its modules is no circle).
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Mapping
from pathlib import Path

import pytest

import streamrec

PACKAGE_ROOT = Path(streamrec.__file__).parent


def modules_under(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``root``."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_modules(tree: ast.Module, package: str, modules: Mapping[str, Path]) -> set[str]:
    """The package's modules that the import statements anywhere in ``tree`` name."""
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            # "from p import m": the module p.m when it is one, else p's __init__
            named.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                         for alias in node.names)
    return named & modules.keys()


def module_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = imported_modules(ast.parse(path.read_text()), package, modules) - {name}
    return graph


def folder_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The same graph between the package's folders (``streamrec.engine``, ...)."""
    folders: dict[str, set[str]] = {}
    for source, targets in graph.items():
        edges = folders.setdefault(_folder(source), set())
        edges.update(_folder(t) for t in targets if _folder(t) != _folder(source))
    return folders


def _folder(module: str) -> str:
    return ".".join(module.split(".")[:2])


def circle_in(graph: Mapping[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


@pytest.mark.parametrize("level", ["modules", "folders"])
def test_the_package_has_no_import_circle(level: str) -> None:
    graph = module_graph(modules_under(PACKAGE_ROOT))
    assert len(graph) > 100, "the walk found the package's modules"
    circle = circle_in(graph if level == "modules" else folder_graph(graph))
    assert circle is None, f"import circle: {' -> '.join(circle or [])}" + "".join(
        f"\n  {source} imports {target}"
        for before, after in zip(circle or [], (circle or [])[1:], strict=False)
        for source, targets in sorted(graph.items()) for target in sorted(targets)
        if _folder(source) == before and _folder(target) == after)


def write_package(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_circle_through_a_deferred_import_or_between_folders_is_found(tmp_path: Path) -> None:
    package = write_package(tmp_path, {
        "pkg/__init__.py": "from pkg.a.one import ONE\n",
        "pkg/a/__init__.py": "",
        "pkg/a/one.py": "from pkg.b import two\nONE = 1\n",
        "pkg/b/__init__.py": "",
        "pkg/b/two.py": "def f():\n    from pkg.a.three import THREE\n    return THREE\n",
        "pkg/a/three.py": "THREE = 3\n",
    })
    graph = module_graph(modules_under(package))
    assert graph["pkg.a.one"] == {"pkg.b.two"}  # the module, not pkg.b's __init__
    assert circle_in(graph) is None  # no module imports itself round the circle ...
    assert circle_in(folder_graph(graph)) in (["pkg.a", "pkg.b", "pkg.a"],
                                              ["pkg.b", "pkg.a", "pkg.b"])  # ... folders do
    (package / "a" / "three.py").write_text("from pkg.b.two import f\nTHREE = 3\n")
    circle = circle_in(module_graph(modules_under(package)))
    assert circle is not None and set(circle) == {"pkg.a.three", "pkg.b.two"}


# The edges depend on the core, never the reverse: HTTP (serving) and the terminal (cli)
# are how people reach the engine, and the engine, its models and its storage must run,
# be replayed and be evaluated without either.
CORE = ("streamrec.engine", "streamrec.models", "streamrec.ranking", "streamrec.sources",
        "streamrec.storage", "streamrec.events", "streamrec.trust")
EDGES = ("streamrec.serving", "streamrec.cli")


def test_the_core_never_imports_the_http_or_terminal_edges() -> None:
    graph = module_graph(modules_under(PACKAGE_ROOT))
    wrong = sorted(f"{source} imports {target}" for source, targets in graph.items()
                   if _folder(source) in CORE for target in targets if _folder(target) in EDGES)
    assert any(_folder(source) in CORE for source in graph), "the walk found the core"
    assert wrong == [], "\n".join(wrong)
