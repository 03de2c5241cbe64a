"""Which rows a list may show: the projects a reader belongs to (and, for an admin, rows
made before projects existed). Every list of conversations, prompts and search hits takes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import or_
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

from app.db.models import Conversation, Prompt

Q = TypeVar("Q", bound=SelectOfScalar[Any])


@dataclass(frozen=True, slots=True)
class Scope:
    """The projects whose rows a reader may list; ``unowned``: also rows with no project
    (an admin's, by authz rule 4). An empty scope lists nothing."""

    project_ids: tuple[str, ...] = ()
    unowned: bool = False

    @classmethod
    def of(cls, project_ids: Iterable[str], *, unowned: bool = False) -> Scope:
        return cls(tuple(sorted(project_ids)), unowned)


def scoped(query: Q, table: type[Conversation] | type[Prompt], scope: Scope) -> Q:
    """``query`` limited to the rows of ``table`` that ``scope`` may list."""
    project = col(table.project_id)
    condition = project.in_(scope.project_ids)
    if scope.unowned:
        condition = or_(condition, project.is_(None))
    return query.where(condition)
