"""Every SQLModel table Parley has, in one namespace: import from here (one module per
concern below it). Schema changes go through Alembic (``app/db/migrations``).

Timestamps are timezone-aware UTC; sqlmodel's UTC type rejects naive datetimes.
"""

from __future__ import annotations

from app.db.models.accounts import (
    ApiKey,
    AuthSession,
    Budget,
    FirstAdmin,
    Invitation,
    Membership,
    ModerationLog,
    Project,
    Role,
    User,
)
from app.db.models.base import (
    SEARCH_INDEXES,
    SEARCH_TABLES,
    include_name,
    is_search_object,
    new_id,
    utcnow,
)
from app.db.models.calls import (
    CallLog,
)
from app.db.models.chat import (
    Attachment,
    AttachmentKind,
    Conversation,
    Message,
    MessageStatus,
    Prompt,
    PromptVersion,
)
from app.db.models.features import (
    AgentMode,
    AgentStep,
    ConversationShare,
    Extraction,
    ShareLink,
    ShareRole,
)
from app.db.models.usage import (
    Alert,
    AlertDelivery,
    UsageDaily,
    UsageDailyConversation,
    UsageHourly,
    UsageHourlyModel,
    UsageLatencyHourly,
    UsageSums,
)

__all__ = [
    "SEARCH_INDEXES",
    "SEARCH_TABLES",
    "AgentMode",
    "AgentStep",
    "Alert",
    "AlertDelivery",
    "ApiKey",
    "Attachment",
    "AttachmentKind",
    "AuthSession",
    "Budget",
    "CallLog",
    "Conversation",
    "ConversationShare",
    "Extraction",
    "FirstAdmin",
    "Invitation",
    "Membership",
    "Message",
    "MessageStatus",
    "ModerationLog",
    "Project",
    "Prompt",
    "PromptVersion",
    "Role",
    "ShareLink",
    "ShareRole",
    "UsageDaily",
    "UsageDailyConversation",
    "UsageHourly",
    "UsageHourlyModel",
    "UsageLatencyHourly",
    "UsageSums",
    "User",
    "include_name",
    "is_search_object",
    "new_id",
    "utcnow",
]
