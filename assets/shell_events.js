// The page shell's shared bits. Any part of the page opens the command palette or the
// shortcut help by dispatching its window event (the header's buttons do it from Python, see
// components/shell.py's OPEN_PALETTE and OPEN_SHORTCUT_HELP).
export const PALETTE_EVENT = "parley:palette";
export const HELP_EVENT = "parley:shortcuts";

export const openPalette = () => window.dispatchEvent(new Event(PALETTE_EVENT));
export const openShortcutHelp = () => window.dispatchEvent(new Event(HELP_EVENT));

// The "Mod" key as the reader's platform names it: ⌘ on macOS, Ctrl elsewhere (both work).
export const modKey = () =>
  typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform || "") ? "⌘" : "Ctrl";
