// The code panel's drag handle: a vertical separator at the panel's left edge.
//
// Dragging resizes the panel in the browser alone (its style.width, found by id), and
// reports the final width once, when the pointer is released; arrow keys resize by a step
// (Shift: four steps), Home and End jump to the bounds, each reporting the new width. So
// the server hears one event per resize, never one per pointer move.
import { useEffect, useState } from "react";

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
  // The width shown while dragging, or until the state echoes a reported width back;
  // meanwhile the panel's inline style holds it, and the state's width takes over again.
  const [live, setLive] = useState(null);
  const settle = () => {
    const panel = document.getElementById(controls);
    if (panel) panel.style.width = "";
    setLive(null);
  };
  useEffect(settle, [width]);
  const value = live ?? width;

  const clamp = (w) => Math.round(Math.min(max, Math.max(min, w)));
  const apply = (w) => {
    const panel = document.getElementById(controls);
    if (panel) panel.style.width = `${w}px`;
    setLive(w);
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
      if (last !== startWidth && onResize) onResize(last);
      else settle();
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
    if (onResize) onResize(w);
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
