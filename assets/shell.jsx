// The chat page's keyboard shell: global shortcuts, the command palette, the shortcut help
// dialog, and the message log's scroll-follow. Wrapped for Python in components/shell.py.
//
// Dialogs are native <dialog> elements opened with showModal(): the rest of the page is inert
// while one is open, Esc closes it natively, and focus goes back to where it was.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

const PALETTE_EVENT = "parley:palette";
const HELP_EVENT = "parley:shortcuts";

// Ctrl on Windows and Linux, Cmd on macOS; both are accepted everywhere.
const isMac = () =>
  typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform || "");

const keyName = (key) => (key === "Mod" ? (isMac() ? "⌘" : "Ctrl") : key);

export const openPalette = () => window.dispatchEvent(new Event(PALETTE_EVENT));
export const openShortcutHelp = () => window.dispatchEvent(new Event(HELP_EVENT));

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

// One keydown listener for the whole page. Chords with Ctrl/Cmd work even while typing (they
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

// A modal <dialog> that opens on a window event and gives focus back when it closes.
function useModal(eventName) {
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

const matches = (label, query) => {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const text = label.toLowerCase();
  return words.every((word) => text.includes(word));
};

// Ctrl/Cmd+K: commands and conversations in one list, searched as you type.
// `conversations` ({id, title}) come from the server, for the query sent with onQuery.
export function CommandPalette({
  models,
  conversations,
  onQuery,
  onOpenConversation,
  onNewChat,
  onSetModel,
  onToggleTheme,
  onTogglePanel,
}) {
  const { ref, open, close, onClose } = useModal(PALETTE_EVENT);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const listRef = useRef(null);

  useEffect(() => {
    if (!open) return;
    setQuery("");
    setActive(0);
    onQuery?.("");
  }, [open]);

  // The server searches conversations a moment after typing stops.
  useEffect(() => {
    if (!open) return;
    const timer = setTimeout(() => onQuery?.(query), 150);
    return () => clearTimeout(timer);
  }, [query]);

  // In the order shown: commands, conversations, then the models to switch to.
  const options = useMemo(() => {
    const commands = [
      { id: "new-chat", label: "New chat", group: "Commands", run: () => onNewChat?.() },
      { id: "toggle-theme", label: "Toggle theme", group: "Commands", run: () => onToggleTheme?.() },
      { id: "toggle-panel", label: "Toggle code panel", group: "Commands", run: () => onTogglePanel?.() },
      { id: "shortcuts", label: "Keyboard shortcuts", group: "Commands", run: () => setTimeout(openShortcutHelp, 0) },
    ];
    const found = (conversations || []).map((c) => ({
      id: `conversation-${c.id}`,
      label: c.title,
      group: "Conversations",
      run: () => onOpenConversation?.(c.id),
    }));
    const switches = (models || []).map((model) => ({
      id: `model-${model.id}`,
      label: `Switch model to ${model.name}`,
      group: "Models",
      run: () => onSetModel?.(model.id),
    }));
    return [
      ...commands.filter((option) => matches(option.label, query)),
      ...found,
      ...switches.filter((option) => matches(option.label, query)),
    ];
  }, [models, conversations, query]);

  const current = options.length ? Math.min(active, options.length - 1) : -1;

  useEffect(() => {
    if (current < 0 || !listRef.current) return;
    listRef.current
      .querySelector(`[data-index="${current}"]`)
      ?.scrollIntoView({ block: "nearest" });
  }, [current]);

  const choose = (option) => {
    close();
    option.run();
  };

  const onKeyDown = (event) => {
    const count = options.length;
    if (event.key === "ArrowDown" && count) {
      event.preventDefault();
      setActive((current + 1) % count);
    } else if (event.key === "ArrowUp" && count) {
      event.preventDefault();
      setActive((current - 1 + count) % count);
    } else if (event.key === "Home" && count && event.ctrlKey) {
      event.preventDefault();
      setActive(0);
    } else if (event.key === "End" && count && event.ctrlKey) {
      event.preventDefault();
      setActive(count - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (current >= 0) choose(options[current]);
    }
  };

  const optionId = (index) => `palette-option-${index}`;
  const groups = ["Commands", "Conversations", "Models"]
    .map((name) => ({
      name,
      items: options.map((option, index) => ({ option, index })).filter(({ option }) => option.group === name),
    }))
    .filter((group) => group.items.length);

  return (
    <dialog
      ref={ref}
      className="parley-dialog parley-palette"
      aria-label="Command palette"
      onClose={onClose}
      onClick={(event) => event.target === ref.current && close()}
    >
      {open ? (
        <div className="parley-palette-body">
          <input
            type="text"
            role="combobox"
            aria-label="Search commands and conversations"
            aria-expanded="true"
            aria-controls="palette-options"
            aria-autocomplete="list"
            aria-activedescendant={current >= 0 ? optionId(current) : undefined}
            placeholder="Search commands and conversations…"
            autoComplete="off"
            spellCheck={false}
            autoFocus
            value={query}
            onChange={(event) => {
              setQuery(event.target.value);
              setActive(0);
            }}
            onKeyDown={onKeyDown}
          />
          <div id="palette-options" role="listbox" aria-label="Commands and conversations" ref={listRef}>
            {groups.map((group) => (
              <div role="group" aria-labelledby={`palette-group-${group.name}`} key={group.name}>
                <div className="parley-palette-group" id={`palette-group-${group.name}`} role="presentation">
                  {group.name}
                </div>
                {group.items.map(({ option, index }) => (
                  <div
                    key={option.id}
                    id={optionId(index)}
                    data-index={index}
                    role="option"
                    aria-selected={index === current}
                    className="parley-palette-option"
                    onMouseMove={() => index !== current && setActive(index)}
                    onClick={() => choose(option)}
                  >
                    {option.label}
                  </div>
                ))}
              </div>
            ))}
          </div>
          {options.length === 0 ? (
            <p className="parley-palette-empty" role="status">
              Nothing matches “{query}”.
            </p>
          ) : null}
        </div>
      ) : null}
    </dialog>
  );
}

// Ctrl/Cmd+/: every shortcut in a table. `shortcuts`: [{keys: ["Mod", "K"], action}], where
// "Mod" shows as ⌘ on macOS and Ctrl elsewhere.
export function ShortcutHelp({ shortcuts }) {
  const { ref, open, close, onClose } = useModal(HELP_EVENT);
  return (
    <dialog
      ref={ref}
      className="parley-dialog parley-help"
      aria-labelledby="shortcut-help-title"
      onClose={onClose}
      onClick={(event) => event.target === ref.current && close()}
    >
      {open ? (
        <div className="parley-help-body">
          <h2 id="shortcut-help-title">Keyboard shortcuts</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Keys</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {(shortcuts || []).map((shortcut) => (
                <tr key={shortcut.action}>
                  <td>
                    {shortcut.keys.map((key, index) => (
                      <span key={key}>
                        {index ? " + " : ""}
                        <kbd>{keyName(key)}</kbd>
                      </span>
                    ))}
                  </td>
                  <td>{shortcut.action}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" className="parley-button" onClick={close} autoFocus>
            Close
          </button>
        </div>
      ) : null}
    </dialog>
  );
}

const FOLLOW_SLACK_PX = 48;
const ANNOUNCE_KEEP = 20; // announcements kept in the live region (older ones are dropped)

const norm = (text) => text.replace(/\s+/g, " ").trim();

// The markdown blocks of a finished assistant message (see message_item in components/chat.py:
// a label, the markdown's wrapper, then status and caption).
const finishedBlocks = (bubble) => {
  const body = bubble.querySelector(":scope > div:not(.reply-caption):not([role])");
  return body ? [...body.children] : [];
};

// Reads a streaming reply to screen readers once, politely, as it is written: each finished
// paragraph (or list, code block...) of the live reply as the next one starts; when the reply
// ends, whatever of the finished message was not read yet (the last frames can arrive with the
// finished message), and "Reply stopped." if it was stopped. The message list itself is not a
// live region, so loading or switching conversations reads nothing.
// What has been read of the streaming reply, kept across remounts: the page remounts when a
// new chat's address changes to /c/<id>, mid-reply.
const heard = { id: null, read: 0, spoken: "" };

function useReplyAnnouncer(logRef, liveId) {
  const [items, setItems] = useState([]);
  const liveIdRef = useRef(liveId);
  liveIdRef.current = liveId;

  useEffect(() => {
    const log = logRef.current;
    if (!log) return;
    let live = null; // the .live-reply element being read
    let read = 0; // how many of its blocks have been announced
    let spoken = ""; // their text, whitespace-normalised
    let path = ""; // the page the reply streams on
    let ending = null; // {spoken, path, until}: a reply that ended, to finish reading
    let next = 0;
    const announce = (text) => {
      const clean = norm(text);
      if (!clean) return;
      next += 1;
      const item = { id: next, text: clean };
      setItems((old) => [...old.slice(-(ANNOUNCE_KEEP - 1)), item]);
    };
    const finish = () => {
      if (ending === null) return;
      const replies = log.querySelectorAll(".message[data-role='assistant']");
      const last = replies[replies.length - 1];
      if (location.pathname === ending.path && last && !last.querySelector(".live-reply")) {
        const text = norm(finishedBlocks(last).map((el) => el.textContent || "").join(" "));
        if (text.startsWith(ending.spoken)) {
          announce(text.slice(ending.spoken.length));
          if (last.querySelector("[aria-label='Reply stopped']")) announce("Reply stopped.");
          ending = null;
          return;
        }
      }
      // Not there (yet): the finished message may come in a later update; or the reader
      // went elsewhere, and this reply is not theirs to hear any more.
      if (location.pathname !== ending.path || performance.now() > ending.until) ending = null;
    };
    const check = () => {
      const current = log.querySelector(".live-reply");
      if (current !== live) {
        if (live !== null) ending = { spoken, path, until: performance.now() + 3000 };
        live = current;
        read = 0;
        spoken = "";
        if (live !== null && heard.id === liveIdRef.current) {
          ({ read, spoken } = heard); // the same reply, after a remount
        } else if (live !== null) {
          Object.assign(heard, { id: liveIdRef.current, read: 0, spoken: "" });
          announce("The assistant is replying.");
        }
      }
      if (live === null) {
        finish();
        return;
      }
      path = location.pathname;
      const parts = [...live.children].filter(
        (el) => el.getAttribute("aria-label") !== "Waiting for the reply",
      );
      for (; read < parts.length - 1; read += 1) {
        const text = norm(parts[read].textContent || "");
        announce(text);
        if (text) spoken = spoken ? `${spoken} ${text}` : text; // as norm() of them all
        Object.assign(heard, { read: read + 1, spoken });
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(log, { childList: true, subtree: true, characterData: true });
    check();
    return () => observer.disconnect();
  }, [logRef]);

  return (
    <div
      className="parley-sr-only"
      role="status"
      aria-label="Reply announcements"
      aria-live="polite"
      aria-atomic="false"
      aria-relevant="additions"
    >
      {items.map((item) => (
        <p key={item.id}>{item.text}</p>
      ))}
    </div>
  );
}

// The message log's scroller: it follows new content only while the reader is at the
// bottom; scrolled up, it stays put and offers "Jump to latest". It also reads the streaming
// reply to screen readers (useReplyAnnouncer).
export function ScrollFollow({ children, className, liveId, ...rest }) {
  const scroller = useRef(null);
  const content = useRef(null);
  const following = useRef(true);
  const [showJump, setShowJump] = useState(false);
  const announcer = useReplyAnnouncer(scroller, liveId);

  const toBottom = useCallback(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, []);

  useEffect(() => {
    const el = scroller.current;
    const inner = content.current;
    if (!el || !inner) return;
    const atBottom = () => el.scrollHeight - el.scrollTop - el.clientHeight <= FOLLOW_SLACK_PX;
    // Only the reader scrolls up: content growing between our scroll and its event must not
    // count as leaving the bottom.
    let lastTop = el.scrollTop;
    const onScroll = () => {
      const top = el.scrollTop;
      if (atBottom()) following.current = true;
      else if (top < lastTop - 1) following.current = false;
      lastTop = top;
      setShowJump(!following.current);
    };
    const onResize = () => {
      if (el.scrollHeight <= el.clientHeight) following.current = true; // nothing to scroll
      if (following.current) toBottom();
      setShowJump(!following.current);
    };
    const observer = new ResizeObserver(onResize);
    observer.observe(inner);
    observer.observe(el);
    el.addEventListener("scroll", onScroll, { passive: true });
    toBottom();
    return () => {
      observer.disconnect();
      el.removeEventListener("scroll", onScroll);
    };
  }, [toBottom]);

  const jump = () => {
    following.current = true;
    setShowJump(false);
    toBottom();
    scroller.current?.focus({ preventScroll: true });
  };

  return (
    <div className={["parley-scroll-follow", className].filter(Boolean).join(" ")}>
      <div ref={scroller} className="parley-scroller" tabIndex={0} {...rest}>
        <div ref={content}>{children}</div>
      </div>
      {showJump ? (
        <button type="button" className="parley-button parley-jump" onClick={jump}>
          Jump to latest <span aria-hidden="true">↓</span>
        </button>
      ) : null}
      {announcer}
    </div>
  );
}

// The first thing Tab reaches: straight to the message box.
export function SkipLink({ label }) {
  const onClick = (event) => {
    const box = document.querySelector("textarea[name='message']");
    if (!box) return;
    event.preventDefault();
    box.focus();
  };
  return (
    <a className="parley-skip" href="#composer" onClick={onClick}>
      {label}
    </a>
  );
}
