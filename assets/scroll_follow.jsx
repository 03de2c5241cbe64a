// The message log's scroller. Wrapped in components/shell.py (scroll_follow).
//
// Kept in JavaScript: following the bottom reacts to every size change of a streaming reply
// and to the reader's scrolling, in the same frame, without the server.
import { useCallback, useEffect, useRef, useState } from "react";
import { useReplyAnnouncer } from "$/public/use_reply_announcer.jsx";

const FOLLOW_SLACK_PX = 48;

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
