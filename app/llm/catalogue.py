"""The model catalogue: a TOML file of models, their providers, fallback chains and timeouts.

The bundled file (:data:`DEFAULT_CATALOGUE`, ``app/llm/catalogue.toml``) documents the format
in its comments; ``PARLEY_CATALOGUE`` points at a replacement. :func:`load_catalogue` parses
and checks it; a mistake raises :class:`CatalogueError` naming the file and the entry.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.toml")

ProviderKind = Literal["anthropic", "openai", "openai-compatible", "local"]
PROVIDERS: tuple[str, ...] = ("anthropic", "openai", "openai-compatible", "local")

# The sampling temperatures each provider's API takes (None: it takes none). Anthropic's
# Messages API (version 2026-10-21, which the SDK sends) refuses any sampling temperature, so
# Claude models take none. A provider not listed (the scripted "fake") takes the default.
TEMPERATURE_RANGES: dict[str, tuple[float, float] | None] = {
    "anthropic": None,
    "openai": (0.0, 2.0),
    "openai-compatible": (0.0, 2.0),
    "local": (0.0, 2.0),
}
DEFAULT_TEMPERATURE_RANGE = (0.0, 2.0)
DEFAULT_MAX_TOKENS_LIMIT = 128_000  # when a model has no context window


def temperature_range(provider: str) -> tuple[float, float] | None:
    """The (lowest, highest) temperature models of ``provider`` take; None: none at all."""
    return TEMPERATURE_RANGES.get(provider, DEFAULT_TEMPERATURE_RANGE)


def max_tokens_limit(context_window: int | None) -> int:
    """The most tokens a reply may be asked for: the model's context window."""
    return context_window or DEFAULT_MAX_TOKENS_LIMIT


class CatalogueError(ValueError):
    """The catalogue file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Timeout budgets of one model, in seconds."""

    connect: float
    first_token: float
    total: float


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    id: str
    provider: str
    provider_model: str
    display_name: str
    context_window: int
    fallbacks: tuple[str, ...]
    timeouts: Timeouts
    vision: bool = False
    max_output_tokens: int = 0  # the most tokens one reply may have (the guards clamp to it)


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connect_timeout: float = Field(default=5.0, gt=0)
    first_token_timeout: float = Field(default=20.0, gt=0)
    total_timeout: float = Field(default=300.0, gt=0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    provider: ProviderKind
    provider_model: str | None = None
    display_name: str | None = None
    context_window: int = Field(gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    fallbacks: list[str] = Field(default_factory=list)
    vision: bool = False
    connect_timeout: float | None = Field(default=None, gt=0)
    first_token_timeout: float | None = Field(default=None, gt=0)
    total_timeout: float | None = Field(default=None, gt=0)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: _Defaults = Field(default_factory=_Defaults)
    model: list[_Model] = Field(default_factory=list)


class Catalogue:
    """The models of a catalogue file, in file order."""

    def __init__(self, entries: Iterable[CatalogueEntry]) -> None:
        self.entries: dict[str, CatalogueEntry] = {}
        for entry in entries:
            if entry.id in self.entries:
                raise CatalogueError(f"the model id {entry.id!r} appears twice")
            self.entries[entry.id] = entry
        for entry in self.entries.values():
            unknown = [f for f in entry.fallbacks if f not in self.entries]
            if unknown:
                raise CatalogueError(
                    f"model {entry.id!r} falls back to {', '.join(map(repr, unknown))}, "
                    "which the catalogue does not define"
                )

    def __getitem__(self, model_id: str) -> CatalogueEntry:
        return self.entries[model_id]

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.entries

    def offered(self, configured: Iterable[str]) -> list[CatalogueEntry]:
        """The entries whose provider is configured, in file order."""
        ready = set(configured)
        return [e for e in self.entries.values() if e.provider in ready]

    def chain(self, model_id: str, configured: Iterable[str]) -> list[CatalogueEntry]:
        """The model and its fallbacks, in order, keeping only configured providers."""
        ready = set(configured)
        seen: set[str] = set()
        out: list[CatalogueEntry] = []
        for mid in (model_id, *self.entries[model_id].fallbacks):
            entry = self.entries[mid]
            if mid not in seen and entry.provider in ready:
                seen.add(mid)
                out.append(entry)
        return out


def parse_catalogue(text: str, *, source: str = "<catalogue>") -> Catalogue:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{source}: not valid TOML: {exc}") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise CatalogueError(f"{source}: {exc}") from None
    d = parsed.defaults
    entries = [
        CatalogueEntry(
            id=m.id,
            provider=m.provider,
            provider_model=m.provider_model or m.id,
            display_name=m.display_name or m.id,
            context_window=m.context_window,
            fallbacks=tuple(m.fallbacks),
            timeouts=Timeouts(
                connect=m.connect_timeout or d.connect_timeout,
                first_token=m.first_token_timeout or d.first_token_timeout,
                total=m.total_timeout or d.total_timeout,
            ),
            vision=m.vision,
            max_output_tokens=min(m.max_output_tokens or m.context_window, m.context_window),
        )
        for m in parsed.model
    ]
    try:
        return Catalogue(entries)
    except CatalogueError as exc:
        raise CatalogueError(f"{source}: {exc}") from None


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read the catalogue at ``path`` (the bundled one when None)."""
    path = path or DEFAULT_CATALOGUE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(
            f"Cannot read the model catalogue {path}: {exc.strerror}. Check PARLEY_CATALOGUE."
        ) from None
    return parse_catalogue(text, source=str(path))
