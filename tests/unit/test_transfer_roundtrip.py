"""Round trip (Hypothesis): any message tree exported as Parley JSON and imported again is
the same tree: parents, version order, roles, contents, statuses, models, times and the
leaf on screen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import crud
from app.db.models import Conversation, Message, MessageStatus
from app.services.authz import Principal
from app.services.transfer import TransferService
from tests.unit.test_transfer import person, project_of, run_import, shape

STATUSES = [MessageStatus.complete, MessageStatus.stopped, MessageStatus.error]
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

node = st.tuples(
    st.integers(min_value=0, max_value=10_000),  # which earlier message is the parent
    st.booleans(),  # a root (another first message)
    st.sampled_from(["user", "assistant"]),
    st.text(st.characters(exclude_characters="\x00"), max_size=40),  # PostgreSQL has no NUL
    st.sampled_from(STATUSES),
    st.one_of(st.none(), st.sampled_from(["gpt-x", "claude-y"])),
    st.integers(min_value=0, max_value=10**9),  # microseconds after EPOCH
)
trees = st.tuples(st.lists(node, min_size=0, max_size=12), st.integers(min_value=0, max_value=99))


def store(engine: Engine, who: Principal, nodes: list[tuple], leaf_pick: int) -> str:
    with Session(engine) as session:
        conversation = Conversation(
            title="t", project_id=project_of(who), user_id=who.user_id, temperature=0.5
        )
        session.add(conversation)
        session.flush()
        ids: list[int] = []
        for index, (parent, root, role, text, status, model, micros) in enumerate(nodes):
            at = EPOCH + timedelta(microseconds=micros)
            message = Message(
                conversation_id=conversation.id,
                parent_id=None if root or not ids else ids[parent % len(ids)],
                role=role,
                content=text,
                status=status,
                model=model,
                created_at=at,
                updated_at=at,
            )
            session.add(message)
            session.flush()
            assert message.id is not None, index
            ids.append(message.id)
        leaf = ids[leaf_pick % len(ids)] if ids else None
        crud.set_current_leaf(session=session, conversation_id=conversation.id, leaf_id=leaf)
        session.commit()
        return conversation.id


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees)
def test_export_then_import_gives_the_same_tree(
    engine: Engine, tree: tuple[list[tuple], int]
) -> None:
    async def run() -> None:
        transfer = TransferService(engine)
        who = await person(engine, f"p{datetime.now(UTC).timestamp()}@example.com")
        original = store(engine, who, *tree)
        scope = await transfer.scope(who, "conversation", original)
        with TemporaryDirectory() as folder:
            path = Path(folder) / "export.json"
            with path.open("w") as out:
                out.writelines(transfer.export_json(scope))
            _, (copy,) = await run_import(transfer, who, path)
        assert shape(engine, copy) == shape(engine, original)

    asyncio.run(run())
