"""The extractors: every schema structured extraction can fill, in one place.

Adding an extractor is one Pydantic class and one :func:`register` call below. The class's
docstring tells the model what to extract; its fields' descriptions and constraints are the
schema the model fills (as a tool's arguments, or a JSON-schema grammar), and validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class Extractor:
    name: str  # the slash command and the tool name: /sentiment, /contacts
    label: str  # shown in a message's actions
    schema: type[BaseModel]


EXTRACTORS: dict[str, Extractor] = {}


def register(name: str, label: str, schema: type[BaseModel]) -> None:
    if name in EXTRACTORS:
        raise ValueError(f"an extractor named {name!r} is already registered")
    EXTRACTORS[name] = Extractor(name, label, schema)


class Sentiment(BaseModel):
    """The overall sentiment the text expresses, how sure you are, and why."""

    model_config = ConfigDict(extra="forbid")

    sentiment: Literal["positive", "negative", "neutral"]
    confidence: float = Field(ge=0, le=1, description="From 0 (a guess) to 1 (certain).")
    reasoning: str = Field(min_length=1, description="One or two sentences: why.")


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = Field(default=None, description="Postal code.")
    type: Literal["home", "work", "other"] = "other"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()./-]{3,32}$")
    company: str | None = None
    addresses: list[Address] = Field(default_factory=list)


class Contacts(BaseModel):
    """Every person named in the text, with what it says about how to reach them."""

    model_config = ConfigDict(extra="forbid")

    contacts: list[Contact]


register("sentiment", "Sentiment", Sentiment)
register("contacts", "Extract contacts", Contacts)
