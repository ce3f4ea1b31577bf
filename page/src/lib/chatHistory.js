/**
 * The chat transcript kept by the page: what is sent (the API is stateless, so the client sends the
 * history), what retry does, and keeping it for the tab (sessionStorage, with an in-memory fallback).
 */

import { newId } from "./id.js";

export const STORAGE_KEY = "modelport.chat.v1";
export const MAX_SENT_MESSAGES = 40;

/** A transcript entry. role: user | assistant; status: done | streaming | stopped | error. */
export function makeMessage(role, content, extra = {}) {
  return { id: newId(), role, content, status: "done", ...extra };
}

/**
 * The messages to send for the next reply: user turns and assistant replies with text (a stopped reply
 * keeps what arrived), errors and empty replies left out, consecutive same-role turns merged, the last
 * MAX_SENT_MESSAGES kept, starting with a user turn.
 */
export function toRequestMessages(transcript) {
  const out = [];
  for (const m of transcript) {
    if (m.role !== "user" && m.role !== "assistant") continue;
    if (m.status === "error" || m.status === "streaming") continue;
    const content = (m.content || "").trim();
    if (!content) continue;
    const last = out[out.length - 1];
    if (last && last.role === m.role) last.content += `\n\n${content}`;
    else out.push({ role: m.role, content });
  }
  let kept = out.slice(-MAX_SENT_MESSAGES);
  while (kept.length && kept[0].role !== "user") kept = kept.slice(1);
  return kept;
}

/** The transcript to re-ask from: everything after the last user turn (its reply or error) removed. */
export function transcriptForRetry(transcript) {
  for (let i = transcript.length - 1; i >= 0; i--) {
    if (transcript[i].role === "user") return transcript.slice(0, i + 1);
  }
  return transcript;
}

/** Whether retry makes sense: there is a user turn to answer again and nothing is streaming. */
export function canRetry(transcript) {
  return transcript.some((m) => m.role === "user") && !transcript.some((m) => m.status === "streaming");
}

const memory = new Map();

function storage() {
  try {
    const s = globalThis.sessionStorage;
    if (!s) return null;
    s.setItem("modelport.probe", "1");
    s.removeItem("modelport.probe");
    return s;
  } catch {
    return null; // storage blocked (privacy settings, sandboxed frames): keep it in memory
  }
}

/** The transcript saved for this tab, or []. Messages that were streaming are marked stopped. */
export function loadTranscript() {
  const s = storage();
  const raw = s ? s.getItem(STORAGE_KEY) : memory.get(STORAGE_KEY);
  if (!raw) return [];
  try {
    const data = JSON.parse(raw);
    if (!Array.isArray(data)) return [];
    return data
      .filter((m) => m && (m.role === "user" || m.role === "assistant") && typeof m.content === "string")
      .map((m) => (m.status === "streaming" ? { ...m, status: "stopped" } : m));
  } catch {
    return [];
  }
}

/** Save the transcript for this tab (best effort). */
export function saveTranscript(transcript) {
  const raw = JSON.stringify(transcript);
  const s = storage();
  if (s) {
    try {
      s.setItem(STORAGE_KEY, raw);
      return;
    } catch {
      // quota exceeded: fall back to memory
    }
  }
  memory.set(STORAGE_KEY, raw);
}
