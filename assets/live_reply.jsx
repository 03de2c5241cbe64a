// The reply being streamed: text arrives on Parley's live-reply websocket
// (app/web/stream_ws.py) and is appended here, never resent through Reflex state.
//
// Frames: "d<text>" appends text; "e{status, error}" ends the stream. A dropped connection
// reconnects and resumes from the number of code points already received.
//
// Rendering cost does not grow with the reply: the text is split into markdown blocks at
// blank lines outside code fences; finished blocks are memoised, so new text re-renders
// only the live tail. Raw HTML stays inert (no rehype-raw) and react-markdown's default
// URL transform blanks javascript: links, as in the finished message's markdown.
import { memo, useEffect, useState } from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import env from "$/env.json";
import { getBackendURL } from "$/utils/state";

const REMARK_PLUGINS = [remarkGfm];
const OPENING_FENCE = /^ {0,3}(`{3,}|~{3,})/;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 4000;

// Splits growing text into finished blocks and a tail, looking only at new text.
class BlockSplitter {
  constructor() {
    this.blocks = []; // finished markdown blocks, never changed again
    this.block = ""; // complete lines of the block in progress
    this.line = ""; // the incomplete last line
    this.fence = null; // the open code fence ("```", "~~~~", ...), if any
    this.chars = 0; // code points received, as the server counts them
  }

  append(text) {
    for (const _ of text) this.chars += 1;
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

const Markdown = ({ text }) => (
  <ReactMarkdown remarkPlugins={REMARK_PLUGINS}>{text}</ReactMarkdown>
);

// A finished block renders once: its text never changes.
const Block = memo(Markdown);

function streamURL(messageId, from) {
  const url = getBackendURL(env.EVENT);
  url.pathname = `/_parley/stream/${encodeURIComponent(messageId)}`;
  url.search = `?from=${from}`;
  return url.toString();
}

export function LiveReply({ messageId }) {
  const [view, setView] = useState({ blocks: [], tail: "" });

  useEffect(() => {
    const splitter = new BlockSplitter();
    let socket = null;
    let retry = null;
    let delay = RETRY_FIRST_MS;
    let ended = false;
    let disposed = false;
    setView({ blocks: [], tail: "" });

    const connect = () => {
      const ws = new WebSocket(streamURL(messageId, splitter.chars));
      socket = ws;
      ws.onmessage = (event) => {
        const data = typeof event.data === "string" ? event.data : "";
        if (data[0] === "d") {
          const before = splitter.blocks.length;
          splitter.append(data.slice(1));
          delay = RETRY_FIRST_MS;
          setView((old) => ({
            blocks:
              splitter.blocks.length === before ? old.blocks : splitter.blocks.slice(),
            tail: splitter.tail(),
          }));
        } else if (data[0] === "e") {
          ended = true; // the finished message arrives through Reflex state
          ws.close();
        }
      };
      ws.onclose = () => {
        if (socket === ws) socket = null;
        if (!ended && !disposed) {
          retry = setTimeout(connect, delay);
          delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
      };
    };
    connect();

    return () => {
      disposed = true;
      clearTimeout(retry);
      const ws = socket;
      if (ws === null) return;
      ws.onmessage = null;
      if (ws.readyState === WebSocket.CONNECTING) {
        // Closing a socket that is still connecting logs an error in the console.
        ws.onopen = () => ws.close();
      } else {
        ws.close();
      }
    };
  }, [messageId]);

  const waiting = view.blocks.length === 0 && view.tail === "";
  return (
    <div className="live-reply">
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
