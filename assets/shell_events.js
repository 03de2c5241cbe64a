// The page shell's window events: any part of the page opens the command palette or the
// shortcut help by dispatching one (the header's buttons do it from Python, see
// components/shell.py's OPEN_PALETTE and OPEN_SHORTCUT_HELP).
export const PALETTE_EVENT = "parley:palette";
export const HELP_EVENT = "parley:shortcuts";

export const openPalette = () => window.dispatchEvent(new Event(PALETTE_EVENT));
export const openShortcutHelp = () => window.dispatchEvent(new Event(HELP_EVENT));
