"""File names and highlighting languages for code blocks (the code panel's Download).

A block's file name comes from its info string (``python title=app/main.py``), a comment on
its first line (``# app/main.py``) or the text just before it, when the name suits the
block's language; else from its language (``snippet.py``). Repeats are numbered. Pure
functions, no Reflex.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Protocol

NAME_CHARS = 100
FALLBACK_STEM = "snippet"


class Fence(Protocol):
    """What naming reads of a fenced block (``code_blocks.Fence`` has it)."""

    @property
    def info(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def before(self) -> str: ...
    @property
    def language(self) -> str: ...


# Language (as info strings name it, lower case) -> file extension.
EXTENSIONS: dict[str, str] = {
    "python": "py", "py": "py", "python3": "py", "py3": "py", "pycon": "py",
    "javascript": "js", "js": "js", "node": "js", "mjs": "mjs", "cjs": "cjs",
    "jsx": "jsx", "typescript": "ts", "ts": "ts", "tsx": "tsx",
    "bash": "sh", "sh": "sh", "shell": "sh", "zsh": "sh", "console": "sh",
    "shell-session": "sh", "shellsession": "sh", "fish": "fish",
    "powershell": "ps1", "ps1": "ps1", "pwsh": "ps1", "bat": "bat", "batch": "bat", "cmd": "bat",
    "json": "json", "jsonc": "json", "json5": "json5", "yaml": "yaml", "yml": "yaml",
    "toml": "toml", "ini": "ini", "cfg": "cfg", "xml": "xml", "csv": "csv",
    "html": "html", "htm": "html", "css": "css", "scss": "scss", "sass": "sass", "less": "less",
    "vue": "vue", "svelte": "svelte",
    "sql": "sql", "postgresql": "sql", "postgres": "sql", "mysql": "sql", "sqlite": "sql",
    "rust": "rs", "rs": "rs", "go": "go", "golang": "go", "java": "java",
    "kotlin": "kt", "kt": "kt", "swift": "swift", "scala": "scala", "groovy": "groovy",
    "c": "c", "h": "h", "cpp": "cpp", "c++": "cpp", "cc": "cpp", "cxx": "cpp", "hpp": "hpp",
    "csharp": "cs", "cs": "cs", "c#": "cs", "fsharp": "fs", "f#": "fs",
    "ruby": "rb", "rb": "rb", "php": "php", "perl": "pl", "lua": "lua", "r": "r",
    "julia": "jl", "dart": "dart", "elixir": "ex", "erlang": "erl", "haskell": "hs",
    "clojure": "clj", "ocaml": "ml", "zig": "zig", "nim": "nim", "vim": "vim",
    "markdown": "md", "md": "md", "tex": "tex", "latex": "tex",
    "graphql": "graphql", "proto": "proto", "protobuf": "proto", "nix": "nix",
    "terraform": "tf", "hcl": "tf", "diff": "diff", "patch": "diff",
    "text": "txt", "txt": "txt", "plaintext": "txt", "plain": "txt",
}  # fmt: skip

# Languages whose files are conventionally named, not extended.
SPECIAL_NAMES: dict[str, str] = {
    "dockerfile": "Dockerfile",
    "docker": "Dockerfile",
    "makefile": "Makefile",
    "make": "Makefile",
}

_KNOWN_EXTENSIONS = frozenset(EXTENSIONS.values()) | {
    "yml", "lock", "conf", "properties", "gradle", "sbt", "mk", "svg", "jsonl", "ipynb",
    "rst", "adoc",
}  # fmt: skip
_DOT_FILES = frozenset({".env", ".gitignore", ".dockerignore", ".editorconfig", ".npmrc"})
_BARE_NAMES = frozenset({"Dockerfile", "Makefile", "Procfile", "Gemfile", "Rakefile"})

# The first line of a block naming its file in a comment: "# app/main.py", "// src/a.tsx",
# "<!-- index.html -->", "-- schema.sql", "/* style.css */", optionally "file: x".
_COMMENT_NAME = re.compile(
    r"^\s*(?:#|//|--|;+|%|/\*+|<!--|\(\*)\s*(?:(?:file(?:name)?|path)\s*:\s*)?"
    r"(?P<path>\S+?)\s*(?:\*/|-->|\*\))?\s*$",
    re.IGNORECASE,
)
_INFO_ATTRIBUTE = re.compile(r"""\b(?:title|file(?:name)?|path)\s*=\s*["']?([^"'\s]+)""")
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def extension_for(language: str) -> str:
    """The file extension for a language name, without the dot; "txt" when unknown."""
    return EXTENSIONS.get(language.strip().lower(), "txt")


# Language (lower case) -> the name Prism (the highlighter) knows it by, where they differ.
_PRISM_ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "py3": "python", "pycon": "python",
    "js": "javascript", "node": "javascript", "mjs": "javascript", "cjs": "javascript",
    "ts": "typescript", "sh": "bash", "shell": "bash", "zsh": "bash", "console": "bash",
    "shellsession": "shell-session", "ps1": "powershell", "pwsh": "powershell",
    "bat": "batch", "cmd": "batch", "yml": "yaml", "jsonc": "json",
    "html": "markup", "htm": "markup", "xml": "markup", "svg": "markup", "vue": "markup",
    "svelte": "markup", "postgresql": "sql", "postgres": "sql", "mysql": "sql",
    "sqlite": "sql", "rs": "rust", "golang": "go", "kt": "kotlin", "h": "c", "c++": "cpp",
    "cc": "cpp", "cxx": "cpp", "hpp": "cpp", "cs": "csharp", "c#": "csharp", "f#": "fsharp",
    "rb": "ruby", "md": "markdown", "tex": "latex", "proto": "protobuf", "terraform": "hcl",
    "tf": "hcl", "dockerfile": "docker", "make": "makefile", "patch": "diff",
}  # fmt: skip
# Everything Prism highlights that a chat is likely to show; anything else is plain text.
_PRISM_LANGUAGES = frozenset(_PRISM_ALIASES.values()) | {
    "python", "javascript", "typescript", "jsx", "tsx", "bash", "json", "json5", "yaml",
    "toml", "ini", "css", "scss", "sass", "less", "sql", "rust", "go", "java", "kotlin",
    "swift", "scala", "groovy", "c", "cpp", "csharp", "fsharp", "ruby", "php", "perl", "lua",
    "r", "julia", "dart", "elixir", "erlang", "haskell", "clojure", "ocaml", "zig", "nim",
    "vim", "markdown", "latex", "graphql", "protobuf", "nix", "hcl", "diff", "docker",
    "makefile", "powershell", "batch", "markup", "csv", "nginx", "regex", "http", "cmake",
    "objectivec", "matlab", "solidity", "elm", "crystal", "d", "fortran", "wasm", "sparql",
}  # fmt: skip


def prism_language(language: str) -> str:
    """The highlighter's name for a language, or "text" (shown plain) when it has none."""
    name = language.strip().lower()
    name = _PRISM_ALIASES.get(name, name)
    return name if name in _PRISM_LANGUAGES else "text"


def _looks_like_file(word: str, *, prose: bool = False) -> bool:
    """Whether a word names a file: a known extension (``main.py``, ``src/App.tsx``), a
    conventional name (``Dockerfile``) or dot-file (``.env``). In ``prose``, a capitalised
    ``Name.js`` is a framework (Node.js, Vue.js), not a file."""
    name = re.split(r"[/\\]", word)[-1]
    if name in _BARE_NAMES or name in _DOT_FILES:
        return True
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem and re.fullmatch(r"[\w.+-]+", name)):
        return False
    if prose and ext == "js" and "/" not in word and stem[0].isupper():
        return False
    return ext.lower() in _KNOWN_EXTENSIONS


def _first_file_in(words: Iterable[str], *, prose: bool = False, language: str = "") -> str | None:
    for word in words:
        word = word.strip("`*\"'()[]<>,;:!?").rstrip(".")
        if _looks_like_file(word, prose=prose) and _fits(word, language):
            return word
    return None


def _fits(path: str, language: str) -> bool:
    """Whether a file could hold a block in ``language``: "Run `main.py`:" above a bash
    block names the file the command runs, not the block. Unknown languages fit anything."""
    wanted = language.strip().lower()
    name = re.split(r"[/\\]", path)[-1]
    if name in _DOT_FILES or (extension_for(wanted) == "txt" and wanted not in SPECIAL_NAMES):
        return True  # .env and the like are written in many "languages"; plain text fits all
    if wanted in SPECIAL_NAMES:
        return name == SPECIAL_NAMES[wanted]
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    return extension_for(ext) == extension_for(wanted)


def named_file(fence: Fence) -> str | None:
    """The file a block says it is, if any: from its info string (``python title=a.py``,
    ``python:a.py``, ``a.py``), a comment on its first line (``# app/main.py``), or the text
    just before it (``Save this as `app/main.py`:``) if the name suits the block's language.
    The path as written."""
    words = fence.info.split()
    candidates = [m[1] for m in _INFO_ATTRIBUTE.finditer(fence.info)]
    if words:
        candidates += [*words[0].split(":")[1:], words[0], *words[1:]]
    first_line = fence.code.split("\n", 1)[0]
    comment = _COMMENT_NAME.match(first_line)
    if comment:
        candidates.append(comment["path"])
    found = _first_file_in(candidates)
    if found is None and fence.before:
        language = fence.language
        found = _first_file_in(_BACKTICKED.findall(fence.before), language=language) or (
            _first_file_in(fence.before.split(), prose=True, language=language)
        )
    return found


def safe_file_name(path: str) -> str:
    """The last part of ``path``, safe as a download name: ASCII letters (accents dropped),
    digits and ``._+-``, anything else as ``_``, no leading dots beyond one, at most
    ``NAME_CHARS`` characters (keeping the extension). "" when nothing usable is left."""
    name = re.split(r"[/\\]", path.strip())[-1]
    name = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    name = _UNSAFE.sub("_", name)
    name = "." + name.lstrip(".") if name.startswith(".") else name
    if name.strip(".") == "":
        return ""
    if len(name) > NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) < 16 and stem:
            name = stem[: NAME_CHARS - len(ext) - 1] + "." + ext
        else:
            name = name[:NAME_CHARS]
    return name


def file_name_for(fence: Fence) -> str:
    """A download name for one block: the file it names, else one from its language."""
    named = named_file(fence)
    if named:
        safe = safe_file_name(named)
        if safe:
            return safe
    language = fence.language.lower()
    if language in SPECIAL_NAMES:
        return SPECIAL_NAMES[language]
    return f"{FALLBACK_STEM}.{extension_for(language)}"


def unique_names(names: Iterable[str]) -> list[str]:
    """The names in order, later duplicates numbered: ``a.py``, ``a-2.py``, ``a-3.py``."""
    taken: set[str] = set()
    result: list[str] = []
    for name in names:
        candidate = name
        if candidate.lower() in taken:
            stem, dot, ext = name.rpartition(".")
            if not dot or not stem:  # "Makefile", ".env"
                stem, dot, ext = name, "", ""
            n = 2
            while (candidate := f"{stem}-{n}{dot}{ext}").lower() in taken:
                n += 1
        taken.add(candidate.lower())
        result.append(candidate)
    return result
