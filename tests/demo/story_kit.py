"""What every story is made of: the :class:`Story` record, and the quiet set-up a story that
is not about accounts needs (an account, a session) before its first captioned step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from playwright.async_api import BrowserContext, expect

from tests.demo.director import Demo
from tests.demo.server import OPERATOR_EMAIL, OPERATOR_PASSWORD, RunningApp

PASSWORD = "a long demo passphrase"

StoryRun = Callable[[Demo, RunningApp], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Story:
    number: int
    slug: str
    title: str
    run: StoryRun | None = None
    waiting_for: str = ""  # the feature a story without ``run`` waits for
    notes: tuple[str, ...] = ()


async def _post_auth(
    context: BrowserContext, app: RunningApp, route: str, form: dict[str, str]
) -> None:
    response = await context.request.post(
        f"{app.url}/_parley/auth/{route}",
        form=form,  # type: ignore[arg-type]
        headers={"Origin": app.url},
        max_redirects=0,
    )
    location = response.headers.get("location", "")
    if response.status != 303 or "error=" in location:
        raise RuntimeError(f"{route} of {form['email']} failed: {response.status} {location}")


async def sign_up_quietly(context: BrowserContext, app: RunningApp, email: str) -> None:
    """A fresh account for a story that is not about signing up: the sign-up form's own
    route, so the chat pages work whether or not they require a login yet."""
    form = {"email": email, "display_name": "Demo", "password": PASSWORD, "confirm": PASSWORD}
    await _post_auth(context, app, "signup", form)


async def sign_in_as_operator(context: BrowserContext, app: RunningApp) -> None:
    """The install's first account, so its admin (made when the demo app started)."""
    form = {"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
    await _post_auth(context, app, "login", form)


async def open_chat(demo: Demo, caption: str) -> None:
    await demo.open("/", caption=caption)
    await expect(demo.composer).to_be_editable(timeout=60_000)
