"""The dependency rules of the source tree, checked by parsing every import with ``ast``.

The guide to the layers is README.md, section "Architecture". Imports flow one way:
components -> state -> app.services -> app.{agent, guards} -> app.llm, and app.services ->
app.db. The rules below pin the parts of that which are easy to break by accident:

(a) In app/, only the composition root (app/app.py) imports Reflex.
(b) Each vendor SDK is imported by one module: ``anthropic`` by app/llm/anthropic_api.py,
    ``openai`` by app/llm/openai_api.py, ``llama_cpp`` by app/llm/local.py. The module that
    will wrap ``instructor`` goes in INSTRUCTOR_MODULES, which may also import both SDKs.
(c) state/ imports no SDK, no database layer (sqlalchemy, sqlmodel, alembic, app.db) and no
    app.llm module beyond the vendor-neutral interface; it goes through app.services.
(d) components/ imports no SDK, no database layer and nothing from app.llm.
(e) app.llm and app.db never import each other.
(f) Components outside components/pages/ take no State: they never import from ``state``, and
    no parameter is annotated with a State class.
(g) Nothing in app/ but app/app.py imports ``state`` or ``components``; state/ never imports
    ``components``.
(h) No import circle between modules: no module imports, directly or through others, a
    module that imports it.
(i) No module of app/, state/, components/ or assets/ is longer than 400 lines (Alembic
    migrations are generated, and exempt).

Every import counts: top level, inside functions, under ``if TYPE_CHECKING``, relative ones,
and ``importlib.import_module("...")`` with a literal name (tests/unit/source_tree.py reads
them).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.unit import source_tree
from tests.unit.source_tree import (
    circles,
    describe_circle,
    import_graph,
    imports_of,
    long_modules,
    module_of,
    python_files,
    resolve,
)

ROOT = Path(__file__).resolve().parents[2]
GUIDE = 'README.md, section "Architecture"'
SOURCE_DIRS = ("app", "state", "components", "bench")
SOURCE_FILES = ("rxconfig.py",)

COMPOSITION_ROOT = "app/app.py"
REFLEX = ("reflex", "reflex_base")
DATABASE = ("sqlalchemy", "sqlmodel", "alembic", "app.db")
SDKS = ("anthropic", "openai", "instructor", "llama_cpp")

ANTHROPIC_MODULE = "app/llm/anthropic_api.py"
OPENAI_MODULE = "app/llm/openai_api.py"
LOCAL_MODEL_MODULE = "app/llm/local.py"
# The benchmark that measures Parley against llama-cpp-python alone must call it directly.
BARE_MODEL_BENCH = "bench/local_overhead.py"
# The benchmark that measures Parley's CPU per token against the openai SDK alone.
BARE_SDK_BENCH = "bench/token_cpu.py"
# The one module that wraps ``instructor`` (structured output), once it exists. It may
# import instructor and the SDK clients instructor wraps. Add its path here, nowhere else.
INSTRUCTOR_MODULES: frozenset[str] = frozenset({"app/llm/structured.py"})

# Which files may import each SDK.
SDK_IMPORTERS: dict[str, frozenset[str]] = {
    "anthropic": frozenset({ANTHROPIC_MODULE}) | INSTRUCTOR_MODULES,
    "openai": frozenset({OPENAI_MODULE, BARE_SDK_BENCH}) | INSTRUCTOR_MODULES,
    "instructor": INSTRUCTOR_MODULES,
    "llama_cpp": frozenset({LOCAL_MODEL_MODULE, BARE_MODEL_BENCH}),
}

# The vendor-neutral part of app.llm (messages, events, the Provider protocol). Everything
# else under app/llm/ is a provider or provider machinery, which state/ must not reach.
LLM_INTERFACE = frozenset({"app.llm", "app.llm.base"})

# Reflex's state base classes, as a component parameter's annotation would name them.
REFLEX_STATE_CLASSES = frozenset({"State", "BaseState", "ComponentState", "SharedState"})


# ----- reading the tree --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    what: str  # e.g. "imports 'sqlmodel'"
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}, which breaks {self.rule} (see {GUIDE})"


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def within_any(name: str, packages: tuple[str, ...]) -> bool:
    return any(within(name, p) for p in packages)


def source_files() -> list[str]:
    return python_files(ROOT, SOURCE_DIRS, SOURCE_FILES)


@cache
def known_modules() -> frozenset[str]:
    return frozenset(module_of(p) for p in source_files())


def owning_module(target: str) -> str:
    return source_tree.owning_module(target, known_modules())


# ----- the rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    applies_to: Callable[[str], bool]
    forbids: Callable[[str, str], bool]  # (import target, importing file) -> broken?


def _sdk_forbidden(target: str, path: str) -> bool:
    return any(within(target, sdk) and path not in ok for sdk, ok in SDK_IMPORTERS.items())


def _allowed_sdk_importers() -> str:
    return "; ".join(
        f"{sdk} in {', '.join(sorted(ok)) or 'no module yet'}" for sdk, ok in SDK_IMPORTERS.items()
    )


def _llm_internals(target: str) -> bool:
    module = owning_module(target)
    return within(module, "app.llm") and module not in LLM_INTERFACE


def _components_outside_pages(path: str) -> bool:
    return path.startswith("components/") and not path.startswith("components/pages/")


RULES: tuple[Rule, ...] = (
    Rule(
        "rule (a): in app/ only the composition root app/app.py may import Reflex",
        lambda p: p.startswith("app/") and p != COMPOSITION_ROOT,
        lambda t, p: within_any(t, REFLEX),
    ),
    Rule(
        "rule (b): each vendor SDK is imported only by its own provider module "
        f"(allowed: {_allowed_sdk_importers()})",
        lambda p: True,
        _sdk_forbidden,
    ),
    Rule(
        "rule (c): state/ stays thin: no SDK, no database layer, no app.llm beyond "
        f"{sorted(LLM_INTERFACE)}; go through app.services",
        lambda p: p.startswith("state/"),
        lambda t, p: within_any(t, SDKS + DATABASE) or _llm_internals(t),
    ),
    Rule(
        "rule (d): components/ import no SDK, no database layer and nothing from app.llm",
        lambda p: p.startswith("components/"),
        lambda t, p: within_any(t, (*SDKS, *DATABASE, "app.llm")),
    ),
    Rule(
        "rule (e): app.llm and app.db never import each other",
        lambda p: p.startswith(("app/llm/", "app/db/")),
        lambda t, p: within(t, "app.db" if p.startswith("app/llm/") else "app.llm"),
    ),
    Rule(
        "rule (f): components outside components/pages/ take no State, so never import state",
        _components_outside_pages,
        lambda t, p: within(t, "state"),
    ),
    Rule(
        "rule (g): imports flow components -> state -> app; only app/app.py reaches back up",
        lambda p: (p.startswith("app/") and p != COMPOSITION_ROOT) or p.startswith("state/"),
        lambda t, p: within(t, "components") or (p.startswith("app/") and within(t, "state")),
    ),
)


def _state_annotations(path: str, tree: ast.Module, state_names: set[str]) -> Iterator[Violation]:
    """Rule (f) beyond imports: a parameter annotated with a State class."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is None or arg.annotation is None:
                continue
            annotation = arg.annotation
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                annotation = ast.parse(annotation.value, mode="eval").body
            for name in ast.walk(annotation):
                dotted = ast.unparse(name) if isinstance(name, ast.Name | ast.Attribute) else ""
                last = dotted.rpartition(".")[2]
                if (dotted and dotted.split(".")[0] in state_names) or (
                    dotted.startswith(("rx.", "reflex.")) and last in REFLEX_STATE_CLASSES
                ):
                    yield Violation(
                        path,
                        arg.lineno,
                        f"annotates parameter {arg.arg!r} with {dotted!r}",
                        "rule (f): components take plain values or Vars, never a State",
                    )
                    break


def check(path: str, source: str, rules: tuple[Rule, ...] = RULES) -> list[Violation]:
    """Every rule ``source`` (the file at ``path``, relative to the repository) breaks."""
    violations: list[Violation] = []
    imports = imports_of(path, source)
    for rule in rules:
        if not rule.applies_to(path):
            continue
        for imp in imports:
            broken = next((t for t in imp.targets if rule.forbids(t, path)), None)
            if broken is not None:
                violations.append(Violation(path, imp.line, f"imports {broken!r}", rule.name))
    if _components_outside_pages(path) and any(r.name.startswith("rule (f)") for r in rules):
        state_names: set[str] = set()  # local names bound to state modules or State classes
        for imp in imports:
            if within(imp.targets[0], "state"):
                state_names.update(imp.imported_names)
            elif within(imp.targets[0], "reflex"):
                state_names.update(n for n in imp.imported_names if n in REFLEX_STATE_CLASSES)
        tree = ast.parse(source, filename=path)
        violations.extend(_state_annotations(path, tree, state_names))
    return violations


def _read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


# ----- rules (h) and (i): no import circle, no long module -------------------------------

LINE_LIMIT = 400
LENGTH_LIMITED_DIRS = ("app", "state", "components", "assets")
# Exempt: Alembic migrations (generated). (The tables are one namespace, app/db/models, split
# into a module per concern so that none grows past the limit.)
LENGTH_EXEMPT = ("app/db/migrations/",)

# Known offenders, allowed while they are fixed (both empty now: nothing offends). A listed
# entry that no longer offends fails the test until it is taken off (or, for a circle that
# shrank, replaced by what is left), so these lists can only shrink; anything not listed fails
# at once.
KNOWN_CIRCLES: frozenset[frozenset[str]] = frozenset()
KNOWN_LONG_MODULES: frozenset[str] = frozenset()


def circle_problems(
    graph: source_tree.Graph, known: Collection[frozenset[str]]
) -> tuple[list[str], list[str]]:
    """Rule (h): (circles not in ``known``, entries of ``known`` that are no circle now)."""
    found = circles(graph)
    new = [
        f"import circle: {describe_circle(graph, group)}; which breaks rule (h): no module "
        f"may import, even inside a function, a module that imports it (see {GUIDE})"
        for group in found
        if group not in known
    ]
    gone = [
        f"{sorted(group)} is no longer an import circle as listed: take it off "
        "KNOWN_CIRCLES, or list what is left of it"
        for group in known
        if group not in found
    ]
    return new, gone


def length_problems(lengths: dict[str, int], known: Collection[str]) -> tuple[list[str], list[str]]:
    """Rule (i): (long modules not in ``known``, entries of ``known`` no longer too long)."""
    new = [
        f"{path}: {lines} lines, which breaks rule (i): a module stays under {LINE_LIMIT} "
        f"lines; split it by concern (see {GUIDE})"
        for path, lines in sorted(lengths.items())
        if path not in known
    ]
    gone = [
        f"{path} is no longer over {LINE_LIMIT} lines: take it off KNOWN_LONG_MODULES"
        for path in sorted(known)
        if path not in lengths
    ]
    return new, gone


def test_no_module_imports_itself_through_a_circle() -> None:
    new, gone = circle_problems(import_graph(ROOT, source_files()), KNOWN_CIRCLES)
    if new or gone:
        pytest.fail("\n".join(new + gone), pytrace=False)


def test_no_module_is_too_long() -> None:
    lengths = long_modules(ROOT, LENGTH_LIMITED_DIRS, LINE_LIMIT, LENGTH_EXEMPT)
    new, gone = length_problems(lengths, KNOWN_LONG_MODULES)
    if new or gone:
        pytest.fail("\n".join(new + gone), pytrace=False)


def _tree(root: Path, files: dict[str, str]) -> list[str]:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return python_files(root, ["pkg"])


def test_the_circle_rule_catches_a_circle_through_imports_inside_functions(
    tmp_path: Path,
) -> None:
    paths = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import run\n",  # a -> b -> c -> a, c's import in a function
            "pkg/b.py": "from . import c\nrun = 1\n",
            "pkg/c.py": "import json\n\n\ndef f():\n    from pkg import a\n",
            "pkg/d.py": "import importlib\nimportlib.import_module('pkg.e')\n",
            "pkg/e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.d\n",
            "pkg/f.py": "from pkg import a, b\nimport pkg\n",  # imports a circle: not in one
        },
    )
    graph = import_graph(tmp_path, paths)
    assert circles(graph) == [
        frozenset({"pkg.a", "pkg.b", "pkg.c"}),
        frozenset({"pkg.d", "pkg.e"}),
    ]
    assert describe_circle(graph, frozenset({"pkg.a", "pkg.b", "pkg.c"})) == (
        "pkg.a -> pkg.b (pkg/a.py:1) -> pkg.c (pkg/b.py:1) -> pkg.a (pkg/c.py:5)"
    )
    new, gone = circle_problems(graph, {frozenset({"pkg.d", "pkg.e"})})
    assert len(new) == 1 and "pkg/c.py:5" in new[0] and GUIDE in new[0] and gone == []
    # A listed circle that is gone (or shrank) must come off the list.
    new, gone = circle_problems(graph, set(circles(graph)) | {frozenset({"pkg.a", "pkg.f"})})
    assert new == [] and len(gone) == 1 and "['pkg.a', 'pkg.f']" in gone[0]
    (tmp_path / "pkg/c.py").write_text("import json\n", encoding="utf-8")
    assert circles(import_graph(tmp_path, paths)) == [frozenset({"pkg.d", "pkg.e"})]


def test_the_length_rule_catches_a_long_module(tmp_path: Path) -> None:
    lines = {n: "x = 1\n" * n for n in (10, 400, 401)}
    _tree(
        tmp_path,
        {
            "app/ok.py": lines[400],
            "app/long.py": lines[401],
            "assets/widget.jsx": lines[401],
            "assets/logo.svg": lines[401],  # not code
            "app/db/migrations/versions/0001_init.py": lines[401],
            "state/listed.py": lines[401],
            "components/split.py": lines[10],
        },
    )
    lengths = long_modules(tmp_path, ("app", "state", "components", "assets"), 400, LENGTH_EXEMPT)
    assert lengths == {"app/long.py": 401, "assets/widget.jsx": 401, "state/listed.py": 401}
    new, gone = length_problems(lengths, {"state/listed.py", "components/split.py"})
    assert [m.split(":")[0] for m in new] == ["app/long.py", "assets/widget.jsx"]
    assert all(GUIDE in m for m in new)
    assert gone == [
        "components/split.py is no longer over 400 lines: take it off KNOWN_LONG_MODULES"
    ]


# ----- the tree obeys the rules -----------------------------------------------------------


def test_the_tree_has_the_layers_the_rules_talk_about() -> None:
    files = source_files()
    assert COMPOSITION_ROOT in files
    assert any(p.startswith("state/") for p in files)
    assert any(p.startswith("components/") for p in files)
    assert any(p.startswith("app/llm/") for p in files)
    assert any(p.startswith("app/db/") for p in files)


@pytest.mark.parametrize("rule", RULES, ids=[r.name[:8] for r in RULES])
def test_the_source_tree_follows(rule: Rule) -> None:
    violations = [v for path in source_files() for v in check(path, _read(path), (rule,))]
    if violations:
        pytest.fail("\n".join(map(str, violations)), pytrace=False)


def test_the_sdk_allow_lists_stay_one_module_per_vendor() -> None:
    assert SDK_IMPORTERS["anthropic"] - INSTRUCTOR_MODULES == {ANTHROPIC_MODULE}
    assert SDK_IMPORTERS["openai"] - INSTRUCTOR_MODULES == {OPENAI_MODULE, BARE_SDK_BENCH}
    assert len(INSTRUCTOR_MODULES) <= 1
    # Within the product, each SDK stays inside app/llm/; only the benchmarks that exist to
    # compare Parley with llama-cpp-python or the openai SDK alone reach one directly.
    benches = {BARE_MODEL_BENCH, BARE_SDK_BENCH}
    for allowed in SDK_IMPORTERS.values():
        assert all(p.startswith("app/llm/") or p in benches for p in allowed), allowed


# ----- the checker itself can fail --------------------------------------------------------

BAD_SNIPPETS: list[tuple[str, str, str]] = [
    ("app/services/chat.py", "import reflex as rx\n", "rule (a)"),
    ("app/llm/router.py", "from reflex_base.event import Event\n", "rule (a)"),
    ("app/services/chat.py", "def f():\n    import anthropic\n", "rule (b)"),
    ("app/llm/router.py", "from openai import AsyncOpenAI\n", "rule (b)"),
    ("app/llm/anthropic_api.py", "import openai\n", "rule (b)"),
    ("app/services/extract.py", "import instructor\n", "rule (b)"),
    ("state/chat.py", "from sqlmodel import Session\n", "rule (c)"),
    ("state/chat.py", "import sqlalchemy.orm\n", "rule (c)"),
    ("state/chat.py", "from app.db import crud\n", "rule (c)"),
    ("state/chat.py", "from app.llm import fake\n", "rule (c)"),
    ("state/chat.py", "from app.llm.fake import ScriptedProvider\n", "rule (c)"),
    (
        "state/chat.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import openai\n",
        "rule (c)",
    ),
    ("state/chat.py", "import importlib\nimportlib.import_module('llama_cpp')\n", "rule (c)"),
    ("components/chat.py", "from app.llm.base import ChatMessage\n", "rule (d)"),
    ("components/pages/chat.py", "from app.db.models import Message\n", "rule (d)"),
    ("components/markdown.py", "import anthropic\n", "rule (d)"),
    ("app/llm/router.py", "from app.db.session import session_scope\n", "rule (e)"),
    ("app/llm/router.py", "from ..db import crud\n", "rule (e)"),
    ("app/db/crud.py", "from app.llm.base import Usage\n", "rule (e)"),
    ("app/db/crud.py", "from . import models\nfrom ..llm import pricing\n", "rule (e)"),
    ("components/chat.py", "from state.chat import ChatState\n", "rule (f)"),
    ("components/chat.py", "import state.chat\n", "rule (f)"),
    (
        "components/chat.py",
        "import reflex as rx\ndef view(state: rx.State) -> rx.Component: ...\n",
        "rule (f)",
    ),
    (
        "components/chat.py",
        "from reflex import State\ndef view(s: 'State') -> None: ...\n",
        "rule (f)",
    ),
    ("app/services/chat.py", "from state.chat import ChatState\n", "rule (g)"),
    ("state/chat.py", "from components.chat import sidebar\n", "rule (g)"),
]


@pytest.mark.parametrize(("path", "source", "rule"), BAD_SNIPPETS)
def test_the_checker_flags_a_bad_import(path: str, source: str, rule: str) -> None:
    violations = check(path, source)
    assert any(v.rule.startswith(rule) for v in violations), violations
    message = str(next(v for v in violations if v.rule.startswith(rule)))
    assert message.startswith(f"{path}:") and rule in message


GOOD_SNIPPETS: list[tuple[str, str]] = [
    ("app/app.py", "import reflex as rx\nfrom state.chat import ChatState\nimport components\n"),
    ("app/llm/anthropic_api.py", "import anthropic\nfrom app.llm.base import Usage\n"),
    ("app/llm/openai_api.py", "import openai\nfrom app.errors import BadRequest\n"),
    ("app/llm/local.py", "def load():\n    from llama_cpp import Llama\n"),
    ("app/services/chat.py", "from sqlmodel import Session\nfrom app.db import crud\n"),
    ("app/services/wiring.py", "from app.llm.fake import rule_provider\n"),
    (
        "state/chat.py",
        "import reflex as rx\nfrom app.services import get_chat_service\n"
        "from app.services.chat import MessageView\nfrom app.errors import ParleyError\n"
        "from app.llm import Usage\nfrom app.llm.base import ChatMessage\n",
    ),
    ("components/chat.py", "import reflex as rx\nfrom app.services.chat import MessageView\n"),
    ("components/chat.py", "def view(message: MessageView, on_click: rx.EventHandler): ...\n"),
    ("components/pages/chat.py", "from state.chat import ChatState\n"),
    ("app/db/crud.py", "from app.db.models import Message\nfrom .models import utcnow\n"),
]


@pytest.mark.parametrize(("path", "source"), GOOD_SNIPPETS)
def test_the_checker_passes_allowed_imports(path: str, source: str) -> None:
    assert check(path, source) == []


def test_relative_imports_resolve_against_the_importing_module() -> None:
    assert resolve("app/llm/router.py", "db", 2) == "app.db"
    assert resolve("app/llm/__init__.py", "base", 1) == "app.llm.base"
    assert resolve("app/db/crud.py", None, 1) == "app.db"
    assert [i.targets for i in imports_of("app/db/crud.py", "from . import models\n")] == [
        ("app.db", "app.db.models")
    ]
