// A streamed reply's text: it arrives on Parley's live-reply websocket (app/web/stream_ws.py)
// and is appended here, never sent through Reflex state, not even once it has finished.
//
// Frames: "d<text>" appends text; "e{status, error}" ends the stream. A dropped connection
// reconnects and resumes from the number of code points already received.
//
// Channels live in this module, by the reply's unguessable stream key, not in a component:
// - the page opens a reply's channel the moment the composer's form is submitted (LiveArm,
//   with the key the server gave this session for its next reply), so the first token does
//   not wait for the send's state update to come back and a component to mount;
// - once the reply ends, the finished message (rendered by Reflex from its saved metadata)
//   shows the same text from here, so the end update does not carry the text again.
//
// Rendering cost does not grow with the reply: the text is split into markdown blocks at
// blank lines outside code fences; finished blocks are memoised, so new text re-renders
// only the live tail. Raw HTML stays inert (no rehype-raw) and react-markdown's default
// URL transform blanks javascript: links, and images show as links, as in the finished
// message's markdown.
import { memo, useEffect, useRef, useState } from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import env from "$/env.json";
import { getBackendURL } from "$/utils/state";

const REMARK_PLUGINS = [remarkGfm];
const OPENING_FENCE = /^ {0,3}(`{3,}|~{3,})/;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 4000;
const UNWATCHED_CLOSE_MS = 5000; // a channel nobody shows closes after this (resumable)
const KEEP_FINISHED = 200; // finished replies' text kept for the page's messages

// Splits growing text into finished blocks and a tail, looking only at new text.
class BlockSplitter {
  constructor() {
    this.blocks = []; // finished markdown blocks, never changed again
    this.block = ""; // complete lines of the block in progress
    this.line = ""; // the incomplete last line
    this.fence = null; // the open code fence ("```", "~~~~", ...), if any
    this.chars = 0; // code points received, as the server counts them
    this.text = ""; // everything received
  }

  append(text) {
    for (const _ of text) this.chars += 1;
    this.text += text;
    const lines = (this.line + text).split("\n");
    this.line = lines.pop();
    for (const line of lines) {
      const fence = OPENING_FENCE.exec(line);
      if (this.fence === null && fence) {
        this.fence = fence[1];
      } else if (
        this.fence !== null &&
        fence &&
        fence[1][0] === this.fence[0] &&
        fence[1].length >= this.fence.length &&
        line.trim() === fence[1]
      ) {
        this.fence = null;
      } else if (this.fence === null && line.trim() === "") {
        if (this.block.trim() !== "") this.blocks.push(this.block);
        this.block = "";
        continue;
      }
      this.block += line + "\n";
    }
  }

  tail() {
    return this.block + this.line;
  }
}

function streamURL(key, from) {
  const url = getBackendURL(env.EVENT);
  url.pathname = `/_parley/stream/${encodeURIComponent(key)}`;
  url.search = `?from=${from}`;
  return url.toString();
}

const channels = new Map(); // stream key -> Channel, oldest first

// One reply's stream: its text so far, whether it ended, and who is showing it.
class Channel {
  constructor(key) {
    this.key = key;
    this.splitter = new BlockSplitter();
    this.view = { blocks: [], tail: "" };
    this.ended = false;
    this.listeners = new Set();
    this.socket = null;
    this.retry = null;
    this.idle = null;
    this.delay = RETRY_FIRST_MS;
  }

  connect() {
    if (this.ended || this.socket !== null) return;
    clearTimeout(this.retry);
    const ws = new WebSocket(streamURL(this.key, this.splitter.chars));
    this.socket = ws;
    ws.onmessage = (event) => {
      const data = typeof event.data === "string" ? event.data : "";
      if (data[0] === "d") {
        const before = this.splitter.blocks.length;
        this.splitter.append(data.slice(1));
        this.delay = RETRY_FIRST_MS;
        this.view = {
          blocks:
            this.splitter.blocks.length === before ? this.view.blocks : this.splitter.blocks.slice(),
          tail: this.splitter.tail(),
        };
        this.notify();
      } else if (data[0] === "e") {
        this.ended = true;
        let status = "";
        try {
          status = JSON.parse(data.slice(1)).status;
        } catch (e) {}
        if (status === "gone" && this.splitter.chars === 0) {
          // Never granted (a send the server refused) or long gone: nothing to keep.
          if (channels.get(this.key) === this) channels.delete(this.key);
        }
        ws.close();
        this.view = { ...this.view, ended: true }; // a new view, so the component re-renders
        this.notify();
      }
    };
    ws.onclose = () => {
      if (this.socket === ws) this.socket = null;
      if (!this.ended && this.listeners.size > 0) {
        this.retry = setTimeout(() => this.connect(), this.delay);
        this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
      }
    };
  }

  close() {
    clearTimeout(this.retry);
    const ws = this.socket;
    this.socket = null;
    if (ws === null) return;
    ws.onmessage = null;
    ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING) {
      // Closing a socket that is still connecting logs an error in the console.
      ws.onopen = () => ws.close();
    } else {
      ws.close();
    }
  }

  watch(listener) {
    this.listeners.add(listener);
    clearTimeout(this.idle);
    this.connect();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && !this.ended) {
        // Kept open a moment: the finished message takes over from the streaming one.
        this.idle = setTimeout(() => {
          if (this.listeners.size === 0) this.close();
        }, UNWATCHED_CLOSE_MS);
      }
    };
  }

  notify() {
    for (const listener of this.listeners) listener(this.view);
  }
}

function channel(key) {
  let found = channels.get(key);
  if (found === undefined) {
    found = new Channel(key);
    channels.set(key, found);
    for (const [old, ch] of channels) {
      if (channels.size <= KEEP_FINISHED) break;
      if (ch.ended && ch.listeners.size === 0) channels.delete(old);
    }
  }
  return found;
}

// The finished text of a reply shown from its channel ("" if this page does not have it).
export function liveText(key) {
  const found = channels.get(key);
  return found === undefined ? "" : found.splitter.text;
}

if (typeof window !== "undefined") window.parleyLiveText = liveText;

// Images render as links, as in the finished message's markdown (components/markdown.py,
// IMAGE_AS_LINK_JSX): nothing remote loads from a reply's text.
const COMPONENTS = {
  img: ({ node, src, alt }) => <a href={src} target="_blank" rel="noopener noreferrer nofollow" className="md-image-link">{"Image: " + (alt || src || "no address")}</a>,
};

const Markdown = ({ text }) => (
  <ReactMarkdown remarkPlugins={REMARK_PLUGINS} components={COMPONENTS}>
    {text}
  </ReactMarkdown>
);

// A finished block renders once: its text never changes.
const Block = memo(Markdown);

const EMPTY_VIEW = { blocks: [], tail: "" };
const SETTLE_AFTER_MS = 3000;

export function LiveReply({ streamKey, finished, reportEnd, onEnd }) {
  // The channel's text from the first render: a finished message that takes over from the
  // streaming one shows the whole reply at once (the reply announcer reads it then).
  const [view, setView] = useState(() => channels.get(streamKey)?.view ?? EMPTY_VIEW);

  useEffect(() => {
    if (!streamKey) return undefined;
    const ch = channel(streamKey);
    setView(ch.view);
    return ch.watch(setView);
  }, [streamKey]);

  // The channel ended, and a moment later this page still shows the reply as streaming: the
  // worker that streamed it died (the one that marked it interrupted ended the channel), so
  // nothing else will tell this page. Ask the server to show what was saved; once per key.
  // A reply that ends normally is replaced by its finished message well within the moment.
  const reported = useRef("");
  useEffect(() => {
    if (!view.ended || !reportEnd || !onEnd || reported.current === streamKey) return undefined;
    const timer = setTimeout(() => {
      reported.current = streamKey;
      onEnd();
    }, SETTLE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [view.ended, reportEnd, streamKey]);

  const waiting = !finished && view.blocks.length === 0 && view.tail === "";
  return (
    // "live-reply" only while it streams: the reply announcer reads that one as it grows
    // (assets/use_reply_announcer.jsx); a finished message's text is "live-text".
    // data-ended: the channel's end arrived, so the text is whole (the announcer waits for it:
    // the finished message can come before the reply's last frames).
    <div className={finished ? "live-text" : "live-reply"} data-ended={view.ended ? "true" : undefined}>
      {waiting ? (
        <p
          className="rt-Text"
          aria-label="Waiting for the reply"
          style={{ color: "var(--gray-10)", margin: 0 }}
        >
          Thinking…
        </p>
      ) : null}
      {view.blocks.map((text, index) => (
        <Block key={index} text={text} />
      ))}
      <Markdown text={view.tail} />
    </div>
  );
}

// Opens the next reply's channel as soon as the composer's form is submitted, before the
// server has answered the send: the server grants ``nextKey`` to the reply it posts.
export function LiveArm({ nextKey }) {
  useEffect(() => {
    if (!nextKey) return undefined;
    const onSubmit = (event) => {
      const form = event.target;
      if (form instanceof HTMLFormElement && form.querySelector("textarea[name=message]")) {
        const ch = channel(nextKey);
        const stop = ch.watch(() => {});
        setTimeout(stop, 0); // held open by the reply that takes it, else closed after a while
      }
    };
    document.addEventListener("submit", onSubmit, true);
    return () => document.removeEventListener("submit", onSubmit, true);
  }, [nextKey]);
  return null;
}
