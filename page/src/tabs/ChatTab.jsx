/**
 * Chat: streamed replies rendered as sanitized markdown, with Stop, Retry and Clear; Enter sends and
 * Shift+Enter starts a new line; each reply shows its stop reason, token counts and latency. The
 * transcript is kept for the browser tab (sessionStorage) and sent whole each turn (the API is stateless).
 */
import { useEffect, useRef, useState } from "react";
import Alert from "../components/Alert.jsx";
import { streamChat } from "../lib/api.js";
import { canRetry, loadTranscript, makeMessage, saveTranscript, toRequestMessages, transcriptForRetry } from "../lib/chatHistory.js";
import { describeStopReason, formatCount, formatMs } from "../lib/format.js";
import { renderMarkdown } from "../lib/markdown.js";

export default function ChatTab({ chatInfo, onLatency }) {
  const [transcript, setTranscript] = useState(loadTranscript);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState(null);
  const [announcement, setAnnouncement] = useState("");
  const controller = useRef(null);
  const logRef = useRef(null);
  const inputRef = useRef(null);
  const streaming = transcript.some((m) => m.status === "streaming");

  useEffect(() => {
    if (!streaming) saveTranscript(transcript);
  }, [transcript, streaming]);

  useEffect(() => {
    const log = logRef.current;
    if (log) log.scrollTop = log.scrollHeight;
  }, [transcript]);

  useEffect(() => () => controller.current?.abort(), []);

  function update(id, change) {
    setTranscript((old) => old.map((m) => (m.id === id ? { ...m, ...(typeof change === "function" ? change(m) : change) } : m)));
  }

  async function ask(history) {
    const reply = makeMessage("assistant", "", { status: "streaming" });
    setTranscript([...history, reply]);
    setError(null);
    setAnnouncement("");
    const c = new AbortController();
    controller.current = c;
    try {
      const summary = await streamChat(toRequestMessages(history), {
        signal: c.signal,
        onDelta: (delta) => update(reply.id, (m) => ({ content: m.content + delta })),
      });
      update(reply.id, (m) => ({
        content: summary.reply ?? m.content,
        status: "done",
        meta: {
          stopReason: summary.stopReason,
          usage: summary.usage,
          latencyMs: summary.latencyMs,
          firstTokenMs: summary.firstTokenMs,
          clientMs: summary.clientMs,
          model: summary.model,
          provider: summary.provider,
          streamed: summary.streamed,
        },
      }));
      onLatency?.("chat", { model: summary.latencyMs }, summary.clientMs);
      setAnnouncement("Reply complete.");
    } catch (err) {
      if (err?.name === "AbortError") {
        update(reply.id, (m) => ({ status: "stopped", meta: { stopReason: "stopped" } }));
        setAnnouncement("Reply stopped.");
      } else {
        update(reply.id, (m) => (m.content ? { status: "stopped", meta: { stopReason: "error" } } : { status: "error" }));
        setError(err);
      }
    } finally {
      controller.current = null;
      inputRef.current?.focus();
    }
  }

  function send(event) {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || streaming) return;
    setDraft("");
    ask([...transcript.filter((m) => m.status !== "error"), makeMessage("user", text)]);
  }

  function onKeyDown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  }

  function stop() {
    controller.current?.abort();
  }

  function retry() {
    if (!canRetry(transcript)) return;
    ask(transcriptForRetry(transcript));
  }

  function clear() {
    controller.current?.abort();
    setTranscript([]);
    setError(null);
    setAnnouncement("Conversation cleared.");
    inputRef.current?.focus();
  }

  const visible = transcript.filter((m) => m.status !== "error");

  return (
    <div className="chat card">
      <header className="result-head">
        <h2 className="card-title">Chat</h2>
        {chatInfo?.provider ? <code className="model-name">{chatInfo.provider}</code> : null}
      </header>
      {chatInfo && chatInfo.configured === false && (
        <p className="banner" data-testid="chat-not-configured">
          Chat is not configured on this gateway yet, so messages will be refused. Start it with a chat
          provider (<code>CHAT_PROVIDER</code>: bedrock, openai or the bundled local model) to talk here.
        </p>
      )}
      <div
        ref={logRef}
        role="log"
        aria-label="Conversation"
        aria-live="polite"
        aria-busy={streaming}
        className="chat-log"
        tabIndex={0}
        data-testid="chat-log"
      >
        {visible.length === 0 && <p className="placeholder">Ask anything. Replies stream in as they are written.</p>}
        {visible.map((m) => (
          <ChatMessage key={m.id} message={m} />
        ))}
      </div>
      <p className="visually-hidden" role="status" aria-live="polite">{announcement}</p>
      {error && <Alert error={error} title="The reply failed" onRetry={canRetry(transcript) ? retry : undefined} />}
      <form className="composer" onSubmit={send}>
        <label htmlFor="chat-input" className="visually-hidden">Message</label>
        <textarea
          id="chat-input"
          ref={inputRef}
          rows={2}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder="Write a message…"
          aria-describedby="chat-help"
        />
        <div className="composer-actions">
          {streaming ? (
            <button type="button" className="button button-danger" onClick={stop}>Stop</button>
          ) : (
            <button type="submit" className="button button-primary" disabled={!draft.trim()}>Send</button>
          )}
        </div>
      </form>
      <div className="form-foot">
        <span id="chat-help" className="hint">Enter to send, Shift+Enter for a new line.</span>
        <span className="toolbar">
          <button type="button" className="button button-small" onClick={retry} disabled={streaming || !canRetry(transcript)}>Retry</button>
          <button type="button" className="button button-small" onClick={clear} disabled={!transcript.length && !error}>Clear</button>
        </span>
      </div>
    </div>
  );
}

function ChatMessage({ message }) {
  const mine = message.role === "user";
  const meta = message.meta || {};
  return (
    <div className={mine ? "msg msg-user" : "msg msg-assistant"} data-testid={mine ? "msg-user" : "msg-assistant"} data-status={message.status}>
      <span className="msg-who">{mine ? "You" : "Model"}</span>
      {mine ? (
        <p className="msg-text">{message.content}</p>
      ) : (
        <div className="msg-text markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(message.content) || (message.status === "streaming" ? "<p>…</p>" : "") }} />
      )}
      {!mine && message.status !== "streaming" && (
        <p className="msg-meta" data-testid="msg-meta">
          {[
            describeStopReason(meta.stopReason),
            meta.usage ? `${formatCount(meta.usage.inputTokens)} in / ${formatCount(meta.usage.outputTokens)} out tokens` : null,
            typeof meta.firstTokenMs === "number" && meta.streamed ? `first token ${formatMs(meta.firstTokenMs)}` : null,
            typeof meta.latencyMs === "number" ? `${formatMs(meta.latencyMs)}` : typeof meta.clientMs === "number" ? formatMs(meta.clientMs) : null,
            meta.model ? `${meta.model}${meta.provider ? ` via ${meta.provider}` : ""}` : null,
          ].filter(Boolean).join(" · ")}
        </p>
      )}
    </div>
  );
}
