"""Reading the source tree for tests/unit/test_layering.py: its files and modules, every
import (parsed with ``ast``), the import graph and its circles, and line counts.

Every import counts: top level, inside functions, under ``if TYPE_CHECKING``, relative ones,
and ``importlib.import_module("...")`` with a literal name. Every function takes the tree's
root, so the checks can be tried on a small synthetic tree.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement: the module it names and, for ``from m import a, b``, each
    ``m.a``, ``m.b`` too (a name may be a submodule, like ``from app.llm import fake``)."""

    line: int
    targets: tuple[str, ...]
    imported_names: tuple[str, ...]  # the local names it binds


def module_of(path: str) -> str:
    """``app/llm/fake.py`` -> ``app.llm.fake``; ``app/llm/__init__.py`` -> ``app.llm``."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(path: str, module: str | None, level: int) -> str:
    """The absolute module a (possibly relative) ``from`` import in ``path`` names."""
    if level == 0:
        return module or ""
    package = module_of(path).split(".")
    if not path.endswith("__init__.py"):
        package.pop()  # a module's relative imports start from its package
    if level > 1:
        package = package[: len(package) - (level - 1)]
    return ".".join([*package, module] if module else package)


def _literal_import(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("x")`` or ``__import__("x")``."""
    func = node.func
    named = (isinstance(func, ast.Name) and func.id in ("import_module", "__import__")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    if named and node.args and isinstance(arg := node.args[0], ast.Constant):
        return arg.value if isinstance(arg.value, str) else None
    return None


def imports_of(path: str, source: str) -> list[Import]:
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                found.append(Import(node.lineno, (alias.name,), (bound,)))
        elif isinstance(node, ast.ImportFrom):
            base = resolve(path, node.module, node.level)
            names = [a for a in node.names if a.name != "*"]
            found.append(
                Import(
                    node.lineno,
                    (base, *(f"{base}.{a.name}" for a in names)),
                    tuple(a.asname or a.name for a in names),
                )
            )
        elif isinstance(node, ast.Call) and (target := _literal_import(node)):
            found.append(Import(node.lineno, (target,), ()))
    return found


def python_files(root: Path, dirs: Iterable[str], files: Iterable[str] = ()) -> list[str]:
    """The ``.py`` files under ``dirs`` and the named top-level ``files``, relative to root."""
    paths = [p for d in dirs if (root / d).is_dir() for p in (root / d).rglob("*.py")]
    paths += [root / f for f in files if (root / f).is_file()]
    return sorted(p.relative_to(root).as_posix() for p in paths)


def owning_module(target: str, modules: frozenset[str]) -> str:
    """The longest of ``modules`` that ``target`` names or lies in (``app.llm.Usage`` is an
    attribute of ``app.llm``; ``app.llm.fake`` is a module); ``target`` if none."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in modules:
            return candidate
    return target


# ----- the import graph and its circles ---------------------------------------------------

# module -> {module it imports: (file, line) of the first such import}
Graph = dict[str, dict[str, tuple[str, int]]]


def import_graph(root: Path, paths: Iterable[str]) -> Graph:
    """Which of the tree's modules each module imports. ``from m import a`` is an edge to the
    module ``m.a`` if there is one, else to ``m``; a package is not implied by its modules."""
    paths = list(paths)
    modules = frozenset(module_of(p) for p in paths)
    graph: Graph = {}
    for path in paths:
        here = module_of(path)
        edges = graph.setdefault(here, {})
        for imp in imports_of(path, (root / path).read_text(encoding="utf-8")):
            for target in imp.targets[1:] or imp.targets:
                module = owning_module(target, modules)
                if module in modules and module != here:
                    edges.setdefault(module, (path, imp.line))
    return graph


def circles(graph: Mapping[str, Mapping[str, object]]) -> list[frozenset[str]]:
    """The groups of modules that import each other in a circle (the strongly connected
    components of more than one module), each group once, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the tree is shallow enough to recurse
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found, key=sorted)


def describe_circle(graph: Graph, group: frozenset[str]) -> str:
    """One way round the circle, with the import that makes each step:
    ``a -> b (a.py:3) -> a (b.py:9)``."""
    start = min(group)
    paths: dict[str, list[str]] = {start: [start]}
    queue = [start]
    while queue:  # breadth first, so the way shown is a shortest one
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in group:
                continue
            if nxt == start:
                way = [*paths[node], start]
                steps = [
                    f"{b} ({graph[a][b][0]}:{graph[a][b][1]})" for a, b in itertools.pairwise(way)
                ]
                return " -> ".join([start, *steps])
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return " <-> ".join(sorted(group))  # not reached for a group from circles()


# ----- module length ----------------------------------------------------------------------

CODE_SUFFIXES = (".py", ".js", ".jsx", ".mjs", ".ts", ".tsx", ".css")


def long_modules(
    root: Path, dirs: Iterable[str], limit: int, exempt: Iterable[str] = ()
) -> dict[str, int]:
    """Every code file under ``dirs`` longer than ``limit`` lines, with its length; paths
    starting with one of ``exempt`` are left out."""
    exempt = tuple(exempt)
    found: dict[str, int] = {}
    for directory in dirs:
        for file in sorted((root / directory).rglob("*")):
            path = file.relative_to(root).as_posix()
            if file.suffix not in CODE_SUFFIXES or not file.is_file() or path.startswith(exempt):
                continue
            lines = len(file.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found[path] = lines
    return found
