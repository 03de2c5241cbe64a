"""Admission before posting: the guards see the request a new message would make before
anything is saved, so a refused send (a rate limit, the concurrency limit, a budget,
moderation) leaves no trace and loses nothing: the composer keeps its text and files.

One read transaction builds the would-be request (:func:`app.services.context.planned_request`);
the model's :class:`~app.guards.GuardedProvider` admits it (or raises
:class:`~app.errors.Refused`). The admission then travels with the reply's prepared request
and is given back when the reply ends. Models with no guards skip all of this.
"""

from __future__ import annotations

from sqlmodel import Session

from app.guards import Admission, CallContext, GuardedProvider, with_context
from app.llm.base import ChatRequest
from app.llm.registry import ModelRegistry
from app.services.authz import Owner
from app.services.branches import BranchOperations
from app.services.context import planned_request
from app.services.kernel import refuse_while_streaming, require_conversation
from app.services.options import Parameters, PostExtras


def is_guarded(models: ModelRegistry) -> bool:
    """Whether any offered model is behind the guards."""
    return any(isinstance(models.resolve(m.id)[1], GuardedProvider) for m in models.available())


async def admit_post(
    service: BranchOperations,
    *,
    conversation_id: str | None,
    text: str,
    model: str | None,
    new_chat_model: str,
    extras: PostExtras,
    client_ip: str,
    owner: Owner | None = None,
) -> Admission | None:
    """The guards' admission for the request a new message would make, or None for a model
    with no guards. Raises :class:`~app.errors.Refused`, or what posting itself would (a
    conversation gone or still streaming), before anything is written. ``model`` is the
    model picked (None: the conversation's own, or ``new_chat_model`` for a new chat);
    ``owner`` is who a new chat will belong to, so its per-user and per-project limits and
    budgets count before the conversation exists; in an existing conversation, who pays
    instead of its owner (a share's participant, :meth:`app.services.authz.Authz.payer`)."""
    models = service.models
    if not is_guarded(models):
        return None

    def plan(session: Session) -> tuple[GuardedProvider, ChatRequest] | None:
        conversation = None
        model_id = model or new_chat_model
        if conversation_id:
            conversation = require_conversation(session, conversation_id)
            refuse_while_streaming(session, conversation.id, service.call_timeout)
            model_id = model or conversation.model
        info, provider = models.resolve(model_id)
        if not isinstance(provider, GuardedProvider):
            return None
        request = planned_request(
            session,
            conversation=conversation,
            text=text,
            attachment_ids=extras.attachment_ids,
            model=info,
            attachments=service.attachments,
            history_limit=service.history_limit,
            parameters=extras.parameters or Parameters(),
            prompt_id=extras.prompt_id,
        )
        caller = CallContext(client_ip=client_ip)
        if owner is not None:  # a new chat's owner, or a participant who pays (issue 13)
            caller = CallContext(owner.user_id, owner.project_id, client_ip)
        return provider, with_context(request, caller)

    planned = await service._db(plan)  # pyright: ignore[reportPrivateUsage]
    if planned is None:
        return None
    provider, request = planned
    return await provider.admit(request)
