import { useEffect } from "react";

// The composer's text belongs to the browser (issue 9). The box is an uncontrolled textarea:
// Reflex never sets it, so nothing typed can be replaced by a late update from the server.
// This component (components/composer_draft.py) keeps that text across page changes (a new
// chat's first message moves the page to /c/<id>, which mounts a new box) and reloads, in
// this tab's sessionStorage, and gives the server one thing it may do to the box:
// `window.parleyComposer.sent(text)` removes `text` from its start once that text has been
// posted, and only if the box still starts with it. What was typed after it stays.

const KEY = "parley.composer.draft";

function load() {
  try {
    return window.sessionStorage.getItem(KEY) || "";
  } catch {
    return ""; // storage refused (a private window's quota): the box still works
  }
}

function save(text) {
  try {
    if (text) window.sessionStorage.setItem(KEY, text);
    else window.sessionStorage.removeItem(KEY);
  } catch {
    // as above: the draft is then kept for this page only
  }
}

function setText(box, text) {
  box.value = text;
  // As if typed: the auto-height handler resizes the box, and the listener below saves it.
  box.dispatchEvent(new Event("input", { bubbles: true }));
}

export function ComposerDraft({ target }) {
  useEffect(() => {
    const box = document.getElementById(target);
    if (!box) return undefined;
    const stored = load();
    if (stored && !box.value) setText(box, stored);
    const onInput = () => save(box.value);
    box.addEventListener("input", onInput);
    window.parleyComposer = {
      sent(text) {
        const current = document.getElementById(target);
        if (!current || !text || !current.value.startsWith(text)) {
          save(current ? current.value : load());
          return;
        }
        setText(current, current.value.slice(text.length));
      },
    };
    return () => box.removeEventListener("input", onInput);
  }, [target]);
  return null;
}
