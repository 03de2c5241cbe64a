// useReplyAnnouncer(logRef, liveId): reads the reply streaming into the message log to screen
// readers, and returns the polite live region that says it (ScrollFollow renders it).
//
// Kept in JavaScript: it watches the log's DOM as the live reply grows (a MutationObserver),
// which the server never sees.
import { useEffect, useRef, useState } from "react";

const ANNOUNCE_KEEP = 20; // announcements kept in the live region (older ones are dropped)

const norm = (text) => text.replace(/\s+/g, " ").trim();

// The markdown blocks of a finished assistant message (see message_item in components/chat.py:
// a label, the markdown's wrapper, then status and caption). A reply this tab streamed shows
// its text from the live channel instead, in a ".live-text" (assets/live_reply.jsx).
const finishedBlocks = (bubble) => {
  const shown = bubble.querySelector(".live-text");
  if (shown) return [...shown.children];
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

export function useReplyAnnouncer(logRef, liveId) {
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
