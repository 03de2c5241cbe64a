"""Agents and extraction in the chat: a conversation's agent mode, the steps of an agent run
(kept with the reply they led to), extractions run over messages, and which MCP servers and
tools a project's agent runs may use."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select, update

from app.db.models import AgentMode, AgentStep, Extraction, Project


def agent_mode(*, session: Session, conversation_id: str) -> bool:
    return session.get(AgentMode, conversation_id) is not None


def set_agent_mode(*, session: Session, conversation_id: str, on: bool) -> None:
    row = session.get(AgentMode, conversation_id)
    if on and row is None:
        session.add(AgentMode(conversation_id=conversation_id))
    elif not on and row is not None:
        session.delete(row)
    session.flush()


def add_step(*, session: Session, step: AgentStep) -> AgentStep:
    session.add(step)
    session.flush()
    return step


def list_steps(*, session: Session, message_ids: Sequence[int]) -> Sequence[AgentStep]:
    if not message_ids:
        return []
    query = (
        select(AgentStep)
        .where(col(AgentStep.message_id).in_(message_ids))
        .order_by(col(AgentStep.message_id), col(AgentStep.index))
    )
    return session.exec(query).all()


def add_extraction(*, session: Session, extraction: Extraction) -> Extraction:
    session.add(extraction)
    session.flush()
    return extraction


def list_extractions(*, session: Session, message_ids: Sequence[int]) -> Sequence[Extraction]:
    if not message_ids:
        return []
    query = (
        select(Extraction)
        .where(col(Extraction.message_id).in_(message_ids))
        .order_by(col(Extraction.message_id), col(Extraction.id))
    )
    return session.exec(query).all()


def project_mcp_tools(*, session: Session, project_id: str) -> frozenset[str] | None:
    """The project's MCP entries ("server", "server/tool"); None: every configured one."""
    raw = session.exec(select(Project.mcp_tools).where(col(Project.id) == project_id)).first()
    return None if raw is None else frozenset(json.loads(raw))


def set_project_mcp_tools(
    *, session: Session, project_id: str, entries: Iterable[str] | None
) -> None:
    value = None if entries is None else json.dumps(sorted(set(entries)))
    session.execute(update(Project).where(col(Project.id) == project_id).values(mcp_tools=value))
