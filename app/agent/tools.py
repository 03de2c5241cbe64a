"""Tools the agent may call: one small interface, and a toolbox that finds them by name.

A :class:`Tool` has a :class:`~app.llm.base.ToolSpec` (name, description, JSON Schema of its
arguments) and an async ``call`` that takes the parsed arguments and returns text for the
model. It raises :class:`ToolError` with a message the model (and the user) can act on.

:class:`FunctionTool` makes a tool from a Pydantic model of the arguments and an async
function: the arguments are validated before the function runs, and a validation failure
names the field. Adding a tool is one such object in the toolbox.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import ParleyError
from app.llm.base import ToolSpec


class ToolError(ParleyError):
    """A tool could not do what was asked; the message goes back to the model."""

    user_message = "The tool failed."


class ToolArgumentError(ToolError):
    """The model's arguments were not valid JSON, or did not fit the tool's schema."""

    user_message = "The tool was called with invalid arguments."


class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    async def call(self, arguments: dict[str, Any]) -> str: ...


def parse_arguments(text: str) -> dict[str, Any]:
    """The model's JSON arguments as a dict; a clear :class:`ToolArgumentError` otherwise."""
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise ToolArgumentError(f"The arguments are not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ToolArgumentError("The arguments must be a JSON object.")
    return value


def describe_validation_error(error: ValidationError) -> str:
    """``field: problem`` for each failure, fields named by their dotted path."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(arguments)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


Args = TypeVar("Args", bound=BaseModel)


@dataclass(frozen=True)
class FunctionTool(Generic[Args]):
    """A tool from a Pydantic model of its arguments and an async function of them."""

    name: str
    description: str
    arguments: type[Args]
    run: Callable[[Args], Awaitable[str]]

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.arguments.model_json_schema())

    async def call(self, arguments: dict[str, Any]) -> str:
        try:
            parsed = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            raise ToolArgumentError(
                f"Invalid arguments for {self.name}: {describe_validation_error(exc)}"
            ) from exc
        return await self.run(parsed)


class Toolbox:
    """The tools one agent run may use, by name (later names replace earlier ones)."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        self._tools[tool.spec.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._tools)

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)
