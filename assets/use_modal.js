// A modal <dialog> that opens on a window event and gives focus back when it closes.
//
// Dialogs are native <dialog> elements opened with showModal(): the rest of the page is inert
// while one is open, Esc closes it natively, and focus goes back to where it was (else to the
// message box). The same event again closes it; opening one closes any other open dialog.
import { useCallback, useEffect, useRef, useState } from "react";

export function useModal(eventName) {
  const ref = useRef(null);
  const returnTo = useRef(null);
  const [open, setOpen] = useState(false);

  const show = useCallback(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (dialog.open) {
      dialog.close();
      return;
    }
    returnTo.current = document.activeElement;
    // Another dialog (the palette opening help, say) steps aside first.
    document.querySelectorAll("dialog[open]").forEach((other) => other.close());
    dialog.showModal();
    setOpen(true);
  }, []);

  useEffect(() => {
    window.addEventListener(eventName, show);
    return () => window.removeEventListener(eventName, show);
  }, [eventName, show]);

  const onClose = useCallback(() => {
    // The close event is queued, not sent at once: when the dialog was opened again before it
    // arrived, it is stale, and would empty the open dialog and take its focus away.
    if (ref.current?.open) return;
    setOpen(false);
    const target = returnTo.current;
    returnTo.current = null;
    if (target instanceof HTMLElement && target.isConnected && target !== document.body) {
      target.focus();
    } else {
      document.querySelector("textarea[name='message']")?.focus();
    }
  }, []);

  const close = useCallback(() => ref.current?.close(), []);
  return { ref, open, close, onClose };
}
