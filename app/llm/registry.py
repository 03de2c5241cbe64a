"""Which models exist, and which provider serves each."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ProviderUnavailable
from app.llm.base import Provider


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str  # what conversations store, e.g. "local"
    display_name: str
    provider: str  # the provider's name, e.g. "local", "anthropic"
    provider_model: str  # the id the provider's API expects
    fallbacks: tuple[str, ...] = ()  # model ids tried, in order, when this one fails
    context_window: int | None = None
    vision: bool = False
    max_output_tokens: int | None = None  # the most tokens one reply may have


class ModelRegistry:
    """Model ids mapped to their provider. Built once by the composition root."""

    def __init__(self, default: str) -> None:
        self.default = default
        self._models: dict[str, tuple[ModelInfo, Provider]] = {}

    def register(self, info: ModelInfo, provider: Provider) -> None:
        self._models[info.id] = (info, provider)

    def resolve(self, model_id: str) -> tuple[ModelInfo, Provider]:
        try:
            return self._models[model_id]
        except KeyError:
            raise ProviderUnavailable(
                f"The model {model_id!r} is not configured. "
                f"Available: {', '.join(self._models) or 'none'}."
            ) from None

    def available(self) -> list[ModelInfo]:
        return [info for info, _ in self._models.values()]

    def default_model(self) -> str:
        if self.default in self._models:
            return self.default
        if not self._models:
            raise ProviderUnavailable("No model is configured.")
        return next(iter(self._models))
