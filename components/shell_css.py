"""The page shell's stylesheet (components/shell.py puts it on the page with shell_style)."""

# Page-wide CSS: visible focus everywhere, the native dialogs, the scroll-follow frame, the
# skip link, and the phone layout (below 768 px the sidebar becomes a drawer).
SHELL_CSS = """
:focus-visible { outline: 2px solid var(--accent-9); outline-offset: 2px; }
.rt-TextAreaRoot:has(:focus-visible), .rt-TextFieldRoot:has(:focus-visible) {
  outline: 2px solid var(--accent-9); outline-offset: 1px;
}
.parley-sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.parley-skip {
  position: absolute; left: 0.5em; top: -3em; z-index: 100; padding: 0.5em 1em;
  background: var(--accent-9); color: var(--accent-contrast); border-radius: 6px;
}
.parley-skip:focus { top: 0.5em; }
.parley-select {
  padding: 0.3em 0.5em; border-radius: 6px; border: 1px solid var(--gray-7);
  background: var(--gray-1); color: var(--gray-12); font-size: 0.9em; max-width: 9.5em;
}
.parley-button {
  font: inherit; font-size: 0.875rem; padding: 0.4em 0.9em; border-radius: 6px;
  border: 1px solid var(--accent-9); background: var(--accent-9);
  color: var(--accent-contrast); cursor: pointer;
}
.parley-button:hover { background: var(--accent-10); }
.parley-scroll-follow {
  position: relative; display: flex; flex-direction: column; min-height: 0; flex: 1;
}
.parley-scroller { flex: 1; min-height: 0; overflow-y: auto; overflow-x: hidden; }
.parley-scroller:focus-visible { outline-offset: -2px; }
.parley-jump {
  position: absolute; bottom: 0.75em; left: 50%; transform: translateX(-50%);
  box-shadow: 0 2px 8px var(--black-a5);
}
.parley-dialog {
  border: 1px solid var(--gray-6); border-radius: 12px; padding: 0;
  background: var(--color-panel-solid); color: var(--gray-12);
  width: min(560px, calc(100vw - 2em)); box-shadow: 0 12px 40px var(--black-a7);
}
.parley-header select { max-width: 12em; min-width: 0; text-overflow: ellipsis; }
.parley-dialog::backdrop { background: rgba(0, 0, 0, 0.45); }
.parley-dialog { margin: auto; }
.parley-palette { margin: 12vh auto auto; }
.parley-palette-body input {
  width: 100%; box-sizing: border-box; font: inherit; font-size: 1rem; padding: 0.85em 1em;
  border: 0; border-bottom: 1px solid var(--gray-6); background: transparent;
  color: var(--gray-12);
}
.parley-palette-body input:focus-visible { outline-offset: -2px; }
.parley-palette-body [role='listbox'] {
  max-height: min(50vh, 420px); overflow-y: auto; padding: 0.4em;
}
.parley-palette-group {
  font-size: 0.75rem; font-weight: 600; color: var(--gray-11); padding: 0.6em 0.6em 0.2em;
}
.parley-palette-option {
  padding: 0.5em 0.6em; border-radius: 6px; cursor: pointer; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap;
}
.parley-palette-option[aria-selected='true'] {
  background: var(--accent-4); outline: 2px solid var(--accent-9); outline-offset: -2px;
}
.parley-palette-empty { padding: 0.75em 1em; color: var(--gray-11); margin: 0; }
.parley-help-body { padding: 1.25em 1.5em; }
.parley-help-body h2 { margin: 0 0 0.75em; font-size: 1.15rem; }
.parley-help-body table { width: 100%; border-collapse: collapse; margin-bottom: 1em; }
.parley-help-body th, .parley-help-body td {
  text-align: left; padding: 0.4em 0.5em; border-bottom: 1px solid var(--gray-5);
  font-size: 0.9rem;
}
.parley-help-body td:first-child { white-space: nowrap; }
.parley-help-body kbd {
  font: inherit; font-size: 0.8rem; padding: 0.1em 0.4em; border: 1px solid var(--gray-7);
  border-radius: 4px; background: var(--gray-3);
}
/* Contrast (WCAG AA, checked by axe in tests/e2e/test_a11y.py): small grey captions one step
   darker, soft badges and callouts in their darkest shade, solid red (Stop) a deeper red. */
.reply-caption .rt-Text { color: var(--gray-11); }
.message .rt-Badge.rt-variant-soft, .rt-CalloutText { color: var(--accent-12); }
.rt-Button.rt-variant-solid[data-accent-color='red'] { background-color: #c62a2f; color: #fff; }
.rt-Button.rt-variant-solid[data-accent-color='red']:hover { background-color: #a8191e; }
/* Dark theme: Radix's hover shade (accent 10) under white text is 4.3:1; a darker one. */
.dark .rt-BaseButton.rt-variant-solid:not([data-accent-color='red']):hover {
  background-color: var(--accent-8);
}
.parley-phone-only { display: none; }
@media (max-width: 767px) {
  .parley-desktop-sidebar { display: none !important; }
  .parley-phone-only { display: inline-flex; }
  .parley-wide-only { display: none !important; }
  /* The chat header in two rows: title and tools, then the settings (components/pages). */
  .parley-header { padding: 0.5em 0.75em !important; row-gap: 0.4em !important; }
  .parley-header-settings { flex: 1 1 100%; flex-wrap: nowrap !important; }
  .parley-header-options { flex: 1 1 3em; min-width: 0; flex-wrap: nowrap !important; }
  .parley-header-settings select:not(.parley-select) { flex: 1 1 0; min-width: 0; max-width: none; }
  .parley-header-settings .parley-select { flex: none; }
  .parley-phone-sr-only {
    position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
    clip: rect(0 0 0 0); white-space: nowrap; border: 0;
  }
}
"""
