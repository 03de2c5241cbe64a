"""The dependency rules of the source tree, checked by parsing every import with ``ast``.

Imports flow one way (see /work/shared/STYLE.md):
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

Every import counts: top level, inside functions, under ``if TYPE_CHECKING``, relative ones,
and ``importlib.import_module("...")`` with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
INSTRUCTOR_MODULES: frozenset[str] = frozenset()

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


# ----- reading imports --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement: the module it names and, for ``from m import a, b``, each
    ``m.a``, ``m.b`` too (a name may be a submodule, like ``from app.llm import fake``)."""

    line: int
    targets: tuple[str, ...]
    imported_names: tuple[str, ...]  # the local names it binds


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    what: str  # e.g. "imports 'sqlmodel'"
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}, which breaks {self.rule}"


def module_of(path: str) -> str:
    """``app/llm/fake.py`` -> ``app.llm.fake``; ``app/llm/__init__.py`` -> ``app.llm``."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(path: str, module: str | None, level: int) -> str:
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
            base = _resolve(path, node.module, node.level)
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


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def within_any(name: str, packages: tuple[str, ...]) -> bool:
    return any(within(name, p) for p in packages)


def source_files() -> list[str]:
    paths = [p for d in SOURCE_DIRS if (ROOT / d).is_dir() for p in (ROOT / d).rglob("*.py")]
    paths += [ROOT / f for f in SOURCE_FILES if (ROOT / f).is_file()]
    return sorted(p.relative_to(ROOT).as_posix() for p in paths)


@cache
def known_modules() -> frozenset[str]:
    return frozenset(module_of(p) for p in source_files())


def owning_module(target: str) -> str:
    """The longest module of the tree that ``target`` names or lies in (``app.llm.Usage``
    is an attribute of ``app.llm``; ``app.llm.fake`` is a module)."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in known_modules():
            return candidate
    return target


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
    assert _resolve("app/llm/router.py", "db", 2) == "app.db"
    assert _resolve("app/llm/__init__.py", "base", 1) == "app.llm.base"
    assert _resolve("app/db/crud.py", None, 1) == "app.db"
    assert [i.targets for i in imports_of("app/db/crud.py", "from . import models\n")] == [
        ("app.db", "app.db.models")
    ]
