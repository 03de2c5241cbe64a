"""Prompts and their numbered, append-only versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.crud.scope import Scope, scoped
from app.db.models import Prompt, PromptVersion, utcnow


def create_prompt(
    *, session: Session, name: str, user_id: str | None = None, project_id: str | None = None
) -> Prompt:
    prompt = Prompt(name=name, user_id=user_id, project_id=project_id)
    session.add(prompt)
    session.flush()
    return prompt


def get_prompt(*, session: Session, prompt_id: int) -> Prompt | None:
    return session.get(Prompt, prompt_id)


def list_prompts(
    *, session: Session, include_archived: bool = False, scope: Scope | None = None
) -> Sequence[Prompt]:
    """Prompts by name; ``scope`` limits them to a reader's projects (None: all)."""
    query = select(Prompt).order_by(func.lower(Prompt.name), col(Prompt.id))
    if not include_archived:
        query = query.where(col(Prompt.archived_at).is_(None))
    if scope is not None:
        query = scoped(query, Prompt, scope)
    return session.exec(query).all()


def update_prompt(
    *, session: Session, prompt_id: int, name: str | None = None, archived: bool | None = None
) -> Prompt | None:
    prompt = session.get(Prompt, prompt_id)
    if prompt is None:
        return None
    if name is not None:
        prompt.name = name
    if archived is not None:
        prompt.archived_at = utcnow() if archived else None
    prompt.updated_at = utcnow()
    session.add(prompt)
    session.flush()
    return prompt


def add_prompt_version(*, session: Session, prompt_id: int, body: str) -> PromptVersion:
    """Append version N+1 (the unique (prompt_id, version) makes a racing writer fail)."""
    latest = latest_prompt_version(session=session, prompt_id=prompt_id)
    version = PromptVersion(
        prompt_id=prompt_id, version=(latest.version if latest else 0) + 1, body=body
    )
    session.add(version)
    session.flush()
    return version


def latest_prompt_version(*, session: Session, prompt_id: int) -> PromptVersion | None:
    query = (
        select(PromptVersion)
        .where(col(PromptVersion.prompt_id) == prompt_id)
        .order_by(col(PromptVersion.version).desc())
        .limit(1)
    )
    return session.exec(query).first()


def list_prompt_versions(*, session: Session, prompt_id: int) -> Sequence[PromptVersion]:
    query = (
        select(PromptVersion)
        .where(col(PromptVersion.prompt_id) == prompt_id)
        .order_by(col(PromptVersion.version).desc())
    )
    return session.exec(query).all()


def get_prompt_version(*, session: Session, version_id: int) -> PromptVersion | None:
    return session.get(PromptVersion, version_id)


def prompt_version_labels(
    *, session: Session, version_ids: Sequence[int]
) -> dict[int, tuple[str, int]]:
    """Version id -> (prompt name, version number), for reply captions."""
    if not version_ids:
        return {}
    query = (
        select(PromptVersion.id, Prompt.name, PromptVersion.version)
        .join(Prompt, col(Prompt.id) == col(PromptVersion.prompt_id))
        .where(col(PromptVersion.id).in_(list(version_ids)))
    )
    return {vid: (name, number) for vid, name, number in session.exec(query).all() if vid}
