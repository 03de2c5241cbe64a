"""The React modules in assets/ and their Python wrappers agree: every wrapped component and
every import between the modules names a file that exists and a name that file exports, and
no module is left that nothing uses."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import reflex as rx

import components

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
PUBLIC = "$/public/"
EXPORT = re.compile(r"^export (?:function|const|class) (\w+)", re.M)
IMPORT = re.compile(r'^import \{([^}]*)\} from "(\$/public/[^"]+)";', re.M)


def _modules() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in ASSETS.glob("*.js*")}


def _exports(source: str) -> set[str]:
    return set(EXPORT.findall(source))


def _wrapped() -> dict[str, set[str]]:
    """Asset module name -> the tags Python components take from it."""
    wrapped: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(components.__path__, "components."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, rx.Component)):
                continue
            library = getattr(value, "library", None)
            if isinstance(library, str) and library.startswith(PUBLIC):
                wrapped.setdefault(library.removeprefix(PUBLIC), set()).add(str(value.tag))
    return wrapped


def test_every_wrapped_component_is_exported_by_its_module() -> None:
    modules = _modules()
    wrapped = _wrapped()
    assert "shortcuts.jsx" in wrapped, "the shell's wrappers were not found"
    for name, tags in wrapped.items():
        assert name in modules, f"a component wraps assets/{name}, which does not exist"
        missing = tags - _exports(modules[name])
        assert not missing, f"assets/{name} does not export {sorted(missing)}"


def test_imports_between_modules_resolve() -> None:
    modules = _modules()
    for name, source in modules.items():
        for names, path in IMPORT.findall(source):
            target = path.removeprefix(PUBLIC)
            assert target in modules, f"assets/{name} imports {path}, which does not exist"
            wanted = {n.strip() for n in names.split(",") if n.strip()}
            missing = wanted - _exports(modules[target])
            assert not missing, f"assets/{name} imports {sorted(missing)} that {path} lacks"


def test_no_module_is_left_unused() -> None:
    used = set(_wrapped())
    for source in _modules().values():
        used |= {path.removeprefix(PUBLIC) for _, path in IMPORT.findall(source)}
    # A classic script (no exports) is loaded by a <script src="/name"> the app adds.
    python = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "app").rglob("*.py"))
    used |= {
        name
        for name, source in _modules().items()
        if not _exports(source) and f'src="/{name}"' in python
    }
    unused = set(_modules()) - used
    assert not unused, f"no component or module uses {sorted(unused)}"


def test_every_markdown_renderer_shows_images_as_links() -> None:
    """Each module that renders a reply's markdown with ReactMarkdown passes the rule that
    turns images into links (components/markdown.py), so nothing remote loads from a reply."""
    from components.markdown import IMAGE_AS_LINK_JSX

    renderers = {n: s for n, s in _modules().items() if "<ReactMarkdown" in s}
    assert "live_reply.jsx" in renderers
    for name, source in renderers.items():
        tags = re.findall(r"<ReactMarkdown\b[^>]*>", source)
        assert tags and all("components={" in tag for tag in tags), name
        assert IMAGE_AS_LINK_JSX in source, f"{name} does not render images as links"
