"""The authorisation rules, table-driven: each kind of row, read and written, by its project's
owner, a member who made it, another member, a viewer, an outsider, an admin and nobody; and
the same people given a share of the conversation (issue 13): by name, or project-wide."""

from __future__ import annotations

import pytest

from app.db.crud import Owned, Shares
from app.db.models import Role, ShareRole
from app.services.authz import (
    Principal,
    can_manage_project,
    can_read,
    can_send,
    can_write_conversation,
    can_write_project,
    can_write_prompt,
    login_redirect,
    safe_next,
)

P = "p" * 32  # the project
OTHER = "q" * 32


def who(user: str, role: Role | None = None, *, admin: bool = False) -> Principal:
    roles = {P: role} if role else {}
    return Principal(user, f"{user}@x.org", user, admin, "s", {OTHER: Role.owner, **roles})


OWNER, MAKER, MEMBER = who("owner", Role.owner), who("maker", Role.member), who("mem", Role.member)
VIEWER, OUTSIDER, ADMIN = who("viewer", Role.viewer), who("out"), who("admin", admin=True)
PEOPLE: dict[str, Principal | None] = {
    "owner": OWNER,
    "maker": MAKER,
    "member": MEMBER,
    "viewer": VIEWER,
    "outsider": OUTSIDER,
    "admin": ADMIN,
    "nobody": None,
}

CONVERSATION = Owned(P, "maker")
PENDING_UPLOAD = Owned(P, "maker", attached=False)
UNOWNED = Owned(None, None)
# Each as the person asked about would see it: their shares are in the row (crud reads them
# for the reader). By name: anyone named gets the role; project-wide: members only, and a
# viewing member no more than viewing.
NAMED_VIEWER = Owned(P, "maker", shares=Shares(user=ShareRole.viewer))
NAMED_PARTICIPANT = Owned(P, "maker", shares=Shares(user=ShareRole.participant))
PROJECT_PARTICIPANTS = Owned(P, "maker", shares=Shares(project=ShareRole.participant))
PROJECT_VIEWERS = Owned(P, "maker", shares=Shares(project=ShareRole.viewer))
SHARED_PENDING = Owned(P, "maker", attached=False, shares=Shares(user=ShareRole.participant))
SIGNED_IN = {"owner", "maker", "member", "viewer", "outsider", "admin"}

# (row, check, who may) for every check; everyone else must be refused.
RULES = [
    (CONVERSATION, can_read, {"owner", "maker", "member", "viewer"}),
    (CONVERSATION, can_write_conversation, {"owner", "maker"}),
    (CONVERSATION, can_write_prompt, {"owner", "maker", "member"}),
    (CONVERSATION, can_send, {"owner", "maker"}),
    (NAMED_VIEWER, can_read, SIGNED_IN),
    (NAMED_VIEWER, can_send, {"owner", "maker"}),
    (NAMED_VIEWER, can_write_conversation, {"owner", "maker"}),
    (NAMED_PARTICIPANT, can_read, SIGNED_IN),
    (NAMED_PARTICIPANT, can_send, SIGNED_IN),
    (NAMED_PARTICIPANT, can_write_conversation, {"owner", "maker"}),
    (PROJECT_PARTICIPANTS, can_read, {"owner", "maker", "member", "viewer"}),
    (PROJECT_PARTICIPANTS, can_send, {"owner", "maker", "member"}),
    (PROJECT_PARTICIPANTS, can_write_conversation, {"owner", "maker"}),
    (PROJECT_VIEWERS, can_send, {"owner", "maker"}),
    (SHARED_PENDING, can_read, {"maker"}),
    (PENDING_UPLOAD, can_read, {"maker"}),
    (PENDING_UPLOAD, can_write_conversation, {"maker"}),
    (UNOWNED, can_read, {"admin"}),
    (UNOWNED, can_write_conversation, {"admin"}),
    (None, can_read, set()),
]


@pytest.mark.parametrize(("row", "check", "allowed"), RULES)
@pytest.mark.parametrize("person", list(PEOPLE))
def test_each_rule_for_each_person(
    row: Owned | None, check, allowed: set[str], person: str
) -> None:  # type: ignore[no-untyped-def]
    assert check(PEOPLE[person], row) is (person in allowed)


@pytest.mark.parametrize("person", list(PEOPLE))
def test_project_rights(person: str) -> None:
    principal = PEOPLE[person]
    assert can_write_project(principal, P) is (person in {"owner", "maker", "member"})
    assert can_manage_project(principal, P) is (person in {"owner", "admin"})
    assert not can_write_project(principal, None)


def test_a_member_who_left_loses_their_pending_uploads() -> None:
    gone = Principal("maker", "m@x.org", "m", False, "s", {})
    assert not can_read(gone, PENDING_UPLOAD)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/c/abc", "/c/abc"),
        ("/?m=3", "/?m=3"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next_keeps_only_local_paths(path: str | None, expected: str) -> None:
    assert safe_next(path) == expected


def test_login_redirect_sends_only_nobody_to_login_and_back() -> None:
    assert login_redirect(OWNER, "/c/abc") is None
    assert login_redirect(None, "/c/abc") == "/login?next=/c/abc"
    assert login_redirect(None, "/?m=1&x=2") == "/login?next=/%3Fm%3D1%26x%3D2"
    assert login_redirect(None, "//evil.example") == "/login?next=/"
