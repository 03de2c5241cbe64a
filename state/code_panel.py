"""The code panel's state: whether it is open, remembered in the browser.

The panel itself (blocks, sizes, views) is built on this; the palette and the keyboard
shortcut call :meth:`CodePanelState.toggle`.
"""

from __future__ import annotations

import reflex as rx


class CodePanelState(rx.State):
    # "1" when open. Local storage, so the choice survives reloads in this browser.
    open_flag: str = rx.LocalStorage("0", name="parley.code_panel.open", sync=True)

    @rx.var
    def is_open(self) -> bool:
        return self.open_flag == "1"

    @rx.event
    def toggle(self) -> None:
        self.open_flag = "0" if self.open_flag == "1" else "1"
