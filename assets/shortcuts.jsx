// The page's one global keydown listener (renders nothing). Wrapped in components/shell.py.
//
// Kept in JavaScript: it sees every key pressed on the page, and decides in the browser which
// few are shortcuts. As a Reflex event each keydown would be a websocket frame to the server.
import { useEffect, useRef } from "react";
import { openPalette, openShortcutHelp } from "$/public/shell_events.js";

// An open modal layer (a dialog, a menu, a drawer) handles Esc itself.
const modalLayerOpen = () =>
  document.querySelector(
    "dialog[open], [role='dialog'], [role='alertdialog'], [role='menu'], [role='listbox']:not(dialog [role='listbox'])",
  ) !== null;

const isComposer = (el) => el instanceof HTMLTextAreaElement && el.name === "message";

const isEditable = (el) =>
  el instanceof HTMLElement &&
  (el.isContentEditable ||
    el instanceof HTMLTextAreaElement ||
    el instanceof HTMLSelectElement ||
    (el instanceof HTMLInputElement && !["button", "checkbox", "radio", "submit"].includes(el.type)));

// Chords with Ctrl (Cmd on macOS; both are accepted everywhere) work even while typing (they
// insert nothing); Esc stops a streaming reply unless another field or a dialog wants it.
export function Shortcuts({ streaming, onStop, onNewChat, onTogglePanel }) {
  const latest = useRef({});
  latest.current = { streaming, onStop, onNewChat, onTogglePanel };

  useEffect(() => {
    const onKeyDown = (event) => {
      if (event.isComposing || event.repeat) return;
      const props = latest.current;
      if (event.key === "Escape") {
        if (event.defaultPrevented || !props.streaming || modalLayerOpen()) return;
        if (isEditable(event.target) && !isComposer(event.target)) return;
        event.preventDefault();
        props.onStop?.();
        return;
      }
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return; // AltGr is Ctrl+Alt
      const key = (event.key || "").toLowerCase();
      if (!event.shiftKey && (key === "k" || event.code === "KeyK")) {
        event.preventDefault();
        openPalette();
      } else if (key === "/" || event.code === "Slash") {
        event.preventDefault();
        openShortcutHelp();
      } else if (event.shiftKey && (key === "o" || event.code === "KeyO")) {
        event.preventDefault();
        props.onNewChat?.();
      } else if (event.shiftKey && (key === "l" || event.code === "KeyL")) {
        event.preventDefault();
        props.onTogglePanel?.();
      }
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
  return null;
}
