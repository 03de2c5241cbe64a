// The code panel as a sheet (below the md breakpoint, 62em, it covers the chat): opening it
// moves focus into it, Esc inside it closes it, and when it closes focus goes back to the
// header's "Code panel" button (the element that controls it), unless focus is already on
// something else that is still on the page (e.g. the composer, after Ctrl+Shift+L).
import { useEffect, useRef } from "react";

const SHEET = "(max-width: 61.99em)";

export function SheetFocus({ panelId, onClose }) {
  const latest = useRef(onClose);
  latest.current = onClose;

  useEffect(() => {
    const panel = document.getElementById(panelId);
    if (!panel) return undefined;
    const isSheet = () => window.matchMedia(SHEET).matches;
    if (isSheet()) panel.querySelector("button")?.focus();
    const onKeyDown = (event) => {
      if (event.key !== "Escape" || event.defaultPrevented || !isSheet()) return;
      event.preventDefault(); // so the page's Esc (stop a reply) leaves it alone
      latest.current?.();
    };
    panel.addEventListener("keydown", onKeyDown);
    return () => {
      panel.removeEventListener("keydown", onKeyDown);
      const active = document.activeElement;
      if (!active || active === document.body || panel.contains(active)) {
        document.querySelector(`[aria-controls="${panelId}"]`)?.focus();
      }
    };
  }, [panelId]);
  return null;
}
