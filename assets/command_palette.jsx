// Ctrl/Cmd+K: the command palette, a modal <dialog> (use_modal.js) with a search box
// (combobox) over a listbox of commands, conversations and models. Wrapped in
// components/shell.py.
//
// Kept in JavaScript: filtering the commands and moving through the options with the arrow
// keys happen on every keystroke, in the browser. Only the conversation search goes to the
// server, once typing stops.
import { useEffect, useMemo, useRef, useState } from "react";
import { useModal } from "$/public/use_modal.js";
import { PALETTE_EVENT, openShortcutHelp } from "$/public/shell_events.js";

const matches = (label, query) => {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const text = label.toLowerCase();
  return words.every((word) => text.includes(word));
};

// Ctrl/Cmd+K: commands and conversations in one list, searched as you type.
// `conversations` ({id, title}) come from the server: its answer for `conversationsFor`.
export function CommandPalette(props) {
  const { ref, open, close, onClose } = useModal(PALETTE_EVENT);
  return (
    <dialog
      ref={ref}
      className="parley-dialog parley-palette"
      aria-label="Command palette"
      onClose={onClose}
      onClick={(event) => event.target === ref.current && close()}
    >
      {/* Mounted afresh at each opening, so its query starts empty before the first key
          arrives (an effect that emptied it after opening ate the first keys typed). */}
      {open ? <PaletteBody {...props} close={close} /> : null}
    </dialog>
  );
}

function PaletteBody({
  models,
  conversations,
  conversationsFor,
  onQuery,
  onOpenConversation,
  onNewChat,
  onSetModel,
  onToggleTheme,
  onTogglePanel,
  close,
}) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const listRef = useRef(null);

  // The server searches conversations a moment after typing stops (the latest ones at once
  // when the box is empty).
  useEffect(() => {
    const timer = setTimeout(() => onQuery?.(query), query ? 150 : 0);
    return () => clearTimeout(timer);
  }, [query]);

  // Conversations are offered only once they answer what is typed now: a list for an older
  // query would put stale entries under Enter.
  const answered = conversationsFor === query.slice(0, 200);

  // In the order shown: commands, conversations, then the models to switch to.
  const options = useMemo(() => {
    const commands = [
      { id: "new-chat", label: "New chat", group: "Commands", run: () => onNewChat?.() },
      { id: "toggle-theme", label: "Toggle theme", group: "Commands", run: () => onToggleTheme?.() },
      { id: "toggle-panel", label: "Toggle code panel", group: "Commands", run: () => onTogglePanel?.() },
      { id: "shortcuts", label: "Keyboard shortcuts", group: "Commands", run: () => setTimeout(openShortcutHelp, 0) },
    ];
    const found = (answered ? conversations || [] : []).map((c) => ({
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
  }, [models, conversations, answered, query]);

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
    <div className="parley-palette-body">
      <input
        type="text"
        role="combobox"
        aria-label="Search commands and conversations"
        aria-expanded="true"
        aria-controls="palette-options"
        aria-autocomplete="list"
        aria-activedescendant={current >= 0 ? optionId(current) : undefined}
        aria-busy={answered ? undefined : "true"}
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
      {!answered ? (
        <p className="parley-palette-empty" role="status">
          Searching conversations…
        </p>
      ) : options.length === 0 ? (
        <p className="parley-palette-empty" role="status">
          Nothing matches “{query}”.
        </p>
      ) : null}
    </div>
  );
}
