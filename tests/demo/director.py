"""The demo director: one helper per user action, each with its caption.

A story reads like what a person does (``await demo.send_message("...", caption="Ask for a
function")``). Every helper is one step: its caption is recorded with the time it started
(the video's captions and the index page come from these), the action is done at a pace a
viewer can follow (a visible pointer glides to what it clicks, text is typed key by key), and
a numbered screenshot is taken when it is done. In fast mode there is no pacing: the same
steps and the same checks run as quickly as the app allows.

Waiting is always for a condition (Playwright's ``expect``); the only timed pauses are the
short beats after a step, so a viewer can see its result, and they are zero in fast mode.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page, expect

# A round pointer drawn over the page, following the real mouse events; it pulses on a click.
# Its last position survives a navigation (sessionStorage), so it never jumps from a corner.
POINTER_SCRIPT = """
(() => {
  const put = () => {
    if (document.getElementById("demo-pointer") || !document.body) return;
    const dot = document.createElement("div");
    dot.id = "demo-pointer";
    dot.setAttribute("aria-hidden", "true");
    Object.assign(dot.style, {
      position: "fixed", left: "0", top: "0", width: "22px", height: "22px",
      margin: "-11px 0 0 -11px", borderRadius: "50%", zIndex: "2147483647",
      pointerEvents: "none", background: "rgba(255, 196, 0, 0.55)",
      border: "2px solid rgba(40, 40, 40, 0.85)", boxShadow: "0 0 6px rgba(0,0,0,0.35)",
      transition: "transform 120ms ease-out",
    });
    const saved = JSON.parse(sessionStorage.getItem("demo-pointer") || "[640, 400]");
    dot.style.transform = `translate(${saved[0]}px, ${saved[1]}px)`;
    document.body.appendChild(dot);
    let x = saved[0], y = saved[1], scale = 1;
    const draw = () => { dot.style.transform = `translate(${x}px, ${y}px) scale(${scale})`; };
    window.addEventListener("mousemove", (e) => {
      x = e.clientX; y = e.clientY; draw();
      sessionStorage.setItem("demo-pointer", JSON.stringify([x, y]));
    }, true);
    window.addEventListener("mousedown", () => { scale = 0.6; draw(); }, true);
    window.addEventListener("mouseup", () => { scale = 1; draw(); }, true);
  };
  // Before the document has its root element there is nothing to watch yet.
  const watch = () => {
    put();
    new MutationObserver(put).observe(document.body, {childList: true});
  };
  if (document.body) watch();
  else document.addEventListener("DOMContentLoaded", watch);
})();
"""


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast a person seems to work. ``FAST`` does everything at once."""

    key_delay_ms: float = 55  # between typed keys
    move_steps: int = 24  # mouse events on the way to a target
    beat_ms: float = 900  # after each step, so its result can be seen

    @property
    def fast(self) -> bool:
        return self.beat_ms == 0


FAST = Pace(key_delay_ms=0, move_steps=1, beat_ms=0)
HUMAN = Pace()


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    caption: str
    start: float  # seconds since the story started
    screenshot: str  # file name inside the story's directory


@dataclass
class Demo:
    """Drives one story in one page; records its steps and screenshots into ``out_dir``."""

    page: Page
    base_url: str
    out_dir: Path
    pace: Pace = HUMAN
    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=monotonic)
    _pointer: tuple[float, float] = (640.0, 400.0)

    # ----- the step frame ---------------------------------------------------------------

    @asynccontextmanager
    async def step(self, caption: str) -> AsyncIterator[None]:
        """One captioned step: recorded, done, given a beat, then photographed."""
        number = len(self.steps) + 1
        slug = re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")[:40]
        shot = f"{number:02d}-{slug}.png"
        self.steps.append(Step(number, caption, monotonic() - self.started, shot))
        yield
        await self.beat()
        await self.page.screenshot(path=self.out_dir / shot)

    async def beat(self, factor: float = 1.0) -> None:
        """A pause for the viewer (none in fast mode); never a wait for the app."""
        if not self.pace.fast:
            await self.page.wait_for_timeout(self.pace.beat_ms * factor)

    async def note(self, caption: str) -> None:
        """A step that only tells the viewer something about what is on screen."""
        async with self.step(caption):
            await self.beat()

    # ----- the pointer ---------------------------------------------------------------------

    async def _point_at(self, target: Locator) -> tuple[float, float]:
        box = None
        for attempt in range(3):
            try:
                await target.scroll_into_view_if_needed()
                box = await target.bounding_box()
                break
            except PlaywrightError:  # re-rendered as it was reached (a run's last update)
                if attempt == 2:
                    raise
        if box is None:
            raise AssertionError(f"{target} has no box to point at")
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await self.page.mouse.move(x, y, steps=self.pace.move_steps)
        self._pointer = (x, y)
        return x, y

    async def _click(self, target: Locator) -> None:
        await expect(target).to_be_enabled()
        if self.pace.fast:
            await target.click()
            return
        await self._point_at(target)
        await self.page.wait_for_timeout(150)  # the pointer rests on it before the click
        await target.click()

    async def _type(self, target: Locator, text: str) -> None:
        await self._click(target)
        if self.pace.fast:
            await target.fill(text)
        else:
            await target.press("Control+a")  # typing replaces what the field held
            await target.press_sequentially(text, delay=self.pace.key_delay_ms)
        await expect(target).to_have_value(text)

    # ----- user actions ---------------------------------------------------------------------

    async def open(self, path: str, *, caption: str) -> None:
        async with self.step(caption):
            await self.page.goto(self.base_url + path)

    async def click(self, target: Locator, *, caption: str) -> None:
        async with self.step(caption):
            await self._click(target)

    async def fill(self, target: Locator, text: str, *, caption: str) -> None:
        async with self.step(caption):
            await self._type(target, text)

    async def press(self, keys: str, *, caption: str) -> None:
        async with self.step(caption):
            await self.page.keyboard.press(keys)

    async def type_keys(self, text: str, *, caption: str) -> None:
        """Type into whatever has the focus (a dialog's search box, say)."""
        async with self.step(caption):
            await self.page.keyboard.type(text, delay=self.pace.key_delay_ms)

    async def sign_up(self, email: str, name: str, password: str, *, caption: str) -> None:
        """Fill in /signup and submit it; the app then shows the chat, signed in."""
        async with self.step(caption):
            await self.page.goto(self.base_url + "/signup")
            form = self.page.get_by_role("main")
            await self._type(form.get_by_label("Email"), email)
            await self._type(form.get_by_label("Name"), name)
            await self._type(form.get_by_label("Password", exact=True), password)
            await self._type(form.get_by_label("Repeat password"), password)
            await self._click(form.get_by_role("button", name="Sign up"))
            await expect(self.composer).to_be_editable(timeout=60_000)

    async def new_chat(self, *, caption: str) -> None:
        async with self.step(caption):
            await self._click(self.page.get_by_role("button", name="New chat", exact=True))
            await expect(self.page.get_by_role("heading", name="New chat")).to_be_visible()

    async def send_message(self, text: str, *, caption: str) -> None:
        """Type into the composer and press Send; done when the server took the message."""
        async with self.step(caption):
            await expect(self.composer).to_be_editable(timeout=60_000)
            await self._type(self.composer, text)
            await self._click(self.send_button)
            await expect(self.composer).to_have_value("")

    async def wait_for_reply(self, text: str, *, caption: str, wait_ms: float = 30_000) -> None:
        """The reply streams in until it holds ``text`` and the app is ready again."""
        async with self.step(caption):
            await expect(self.last_reply).to_contain_text(text, timeout=wait_ms)
            await expect(self.send_button).to_be_visible(timeout=wait_ms)

    async def see(
        self, target: Locator, text: str | re.Pattern[str], *, caption: str, wait_ms: float = 15_000
    ) -> None:
        """A step where the viewer looks at something the app shows (waited for, never slept)."""
        async with self.step(caption):
            await expect(target).to_contain_text(text, timeout=wait_ms)
            if not self.pace.fast:
                await self._point_at(target.last)

    async def pick_model(self, model_id: str, *, caption: str) -> None:
        async with self.step(caption):
            picker = self.page.get_by_role("combobox", name="Model")
            await expect(picker.locator(f"option[value='{model_id}']")).to_have_count(1)
            await self._point_at(picker)
            await picker.select_option(model_id)
            await expect(picker).to_have_value(model_id)

    async def choose(
        self, select: Locator, value: str, *, caption: str, wait_ms: float = 15_000
    ) -> None:
        """Pick ``value`` in a native select (a filter, say); done when the select shows it
        (a select the server controls shows it once the server has answered)."""
        async with self.step(caption):
            await expect(select.locator(f"option[value='{value}']")).to_have_count(1)
            if not self.pace.fast:
                await self._point_at(select)
            await select.select_option(value)
            await expect(select).to_have_value(value, timeout=wait_ms)

    async def set_date(
        self, field: Locator, value: str, *, caption: str, wait_ms: float = 15_000
    ) -> None:
        """Set a date field (``2026-12-01``): the browser's date picker takes no typing."""
        async with self.step(caption):
            await self._click(field)
            await field.fill(value)
            await expect(field).to_have_value(value, timeout=wait_ms)

    async def copy(self, button: Locator, wanted: str, *, caption: str) -> str:
        """Press a Copy button; done when the clipboard holds ``wanted`` (the page writes it
        asynchronously). The clipboard's text. The story grants the clipboard permissions."""
        async with self.step(caption):
            await self._click(button)
            text = await self._clipboard_with(wanted)
        return text

    async def _clipboard_with(self, wanted: str, wait_ms: float = 5_000) -> str:
        text = ""
        for _ in range(int(wait_ms / 50)):
            text = await self.page.evaluate("navigator.clipboard.readText()")
            if wanted in text:
                return text
            await self.page.wait_for_timeout(50)  # polls a condition the page cannot signal
        raise AssertionError(f"the clipboard holds {text[:200]!r}, not {wanted!r}")

    async def download(self, link: Locator, *, caption: str) -> Path:
        """Click a download link; done when the file has arrived. Its path, in the story's
        directory under the name the app gave it."""
        async with self.step(caption):
            async with self.page.expect_download() as started:
                await self._click(link)
            download = await started.value
            path = self.out_dir / download.suggested_filename
            await download.save_as(path)
            if await download.failure() is not None:
                raise AssertionError(f"the download failed: {await download.failure()}")
        return path

    async def attach(self, files: Sequence[tuple[str, str, bytes]], *, caption: str) -> None:
        """Press Attach files and choose ``files`` (name, MIME type, bytes) in the chooser."""
        async with self.step(caption):
            button = self.page.get_by_role("button", name="Attach files")
            async with self.page.expect_file_chooser() as chooser:
                await self._click(button)
            payloads = [{"name": n, "mimeType": m, "buffer": b} for n, m, b in files]
            await (await chooser.value).set_files(payloads)  # type: ignore[arg-type]
            chips = self.page.get_by_label("Files to send")
            for name, _, _ in files:
                await expect(chips.get_by_text(name)).to_be_visible()

    # ----- what the stories look at ---------------------------------------------------------

    @property
    def composer(self) -> Locator:
        return self.page.get_by_role("textbox", name="Message")

    @property
    def send_button(self) -> Locator:
        return self.page.get_by_role("button", name="Send", exact=True)

    @property
    def log(self) -> Locator:
        return self.page.get_by_role("log")

    def messages(self, role: str) -> Locator:
        return self.log.locator(f".message[data-role='{role}']:visible")

    @property
    def last_reply(self) -> Locator:
        return self.messages("assistant").last
