// The code panel's drag handle: a vertical separator at the panel's left edge.
//
// Dragging resizes the panel in the browser alone (its style.width, found by id) and reports
// the final width once, when the pointer is released. Arrow keys resize by a step (Shift:
// four steps), Home and End jump to the bounds; a run of key presses is reported once, when
// the keys rest. So the server hears one event per resize, never one per pointer move or
// key press.
import { useEffect, useRef, useState } from "react";

const KEY_REPORT_DELAY_MS = 250; // report after the keys have rested this long
const ECHO_WAIT_MS = 3000; // stop waiting for the state to echo a report after this

export function PanelResizer({
  panelWidth: width,
  min,
  max,
  step = 16,
  controls,
  label,
  className,
  onResize,
}) {
  // The width shown while resizing, until the state echoes the reported width back;
  // meanwhile the panel's inline style holds it. A width that arrives while another is
  // awaited (an older report's echo) does not pull it back; one that arrives with nothing
  // awaited (another tab) takes over at once.
  const [live, setLive] = useState(null);
  const awaited = useRef(null);
  const sendTimer = useRef(null);
  const pendingSend = useRef(null);
  const echoTimer = useRef(null);

  const settle = () => {
    clearTimeout(echoTimer.current);
    awaited.current = null;
    const panel = document.getElementById(controls);
    if (panel) panel.style.width = "";
    setLive(null);
  };
  useEffect(() => {
    if (awaited.current === null || awaited.current === width) settle();
  }, [width]);
  // Closing the panel mid-run still saves the width.
  useEffect(
    () => () => {
      clearTimeout(sendTimer.current);
      clearTimeout(echoTimer.current);
      if (pendingSend.current) pendingSend.current();
    },
    [],
  );
  const value = live ?? width;

  const clamp = (w) => Math.round(Math.min(max, Math.max(min, w)));
  const apply = (w) => {
    const panel = document.getElementById(controls);
    if (panel) panel.style.width = `${w}px`;
    setLive(w);
  };
  const report = (w, delay) => {
    awaited.current = w;
    clearTimeout(sendTimer.current);
    clearTimeout(echoTimer.current);
    const send = () => {
      pendingSend.current = null;
      if (onResize) onResize(w);
      // The state may never echo it (it already had this width): stop waiting.
      echoTimer.current = setTimeout(settle, ECHO_WAIT_MS);
    };
    if (delay) {
      pendingSend.current = send;
      sendTimer.current = setTimeout(send, delay);
    } else {
      send();
    }
  };

  const onPointerDown = (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    const handle = event.currentTarget;
    const startX = event.clientX;
    const startWidth = value;
    let last = startWidth;
    handle.setPointerCapture(event.pointerId);
    // The panel is on the right: moving the handle left widens it.
    const move = (e) => {
      last = clamp(startWidth + (startX - e.clientX));
      apply(last);
    };
    const end = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", end);
      if (last !== startWidth) report(last, 0);
      else if (awaited.current === null) settle();
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
  };

  const onKeyDown = (event) => {
    const by = event.shiftKey ? step * 4 : step;
    const next = {
      ArrowLeft: value + by,
      ArrowRight: value - by,
      Home: min,
      End: max,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const w = clamp(next);
    if (w === value) return;
    apply(w);
    report(w, KEY_REPORT_DELAY_MS);
  };

  return (
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-controls={controls}
      aria-valuenow={value}
      aria-valuemin={min}
      aria-valuemax={max}
      tabIndex={0}
      className={className}
      onPointerDown={onPointerDown}
      onKeyDown={onKeyDown}
    />
  );
}
