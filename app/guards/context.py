"""Who is calling: the caller's identity as plain values, carried in the request's metadata.

The call log already reads ``user_id`` / ``project_id`` / ``conversation_id`` from
``ChatRequest.metadata`` (:data:`app.llm.calllog.CONTEXT_KEYS`), so the guards read the same
keys, plus ``client_ip``, which the call log does not copy. :func:`with_context` puts a
:class:`CallContext` on a request; :meth:`CallContext.of` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.llm.base import ChatRequest

_KEYS = ("user_id", "project_id", "client_ip")


@dataclass(frozen=True, slots=True)
class CallContext:
    """The caller of one model call. Empty fields mean "unknown" (e.g. before accounts)."""

    user_id: str = ""
    project_id: str = ""
    client_ip: str = ""

    def as_metadata(self) -> dict[str, str]:
        return {k: v for k in _KEYS if (v := getattr(self, k))}

    @classmethod
    def of(cls, request: ChatRequest) -> CallContext:
        meta = request.metadata
        return cls(**{k: meta.get(k, "") for k in _KEYS})


def with_context(request: ChatRequest, context: CallContext) -> ChatRequest:
    """The request with the caller's identity added to its metadata."""
    return replace(request, metadata={**request.metadata, **context.as_metadata()})
