import { beforeEach, describe, expect, it } from "vitest";
import {
  MAX_SENT_MESSAGES, STORAGE_KEY, canRetry, loadTranscript, makeMessage, saveTranscript, toRequestMessages, transcriptForRetry,
} from "../lib/chatHistory.js";

const user = (content, extra) => makeMessage("user", content, extra);
const bot = (content, extra) => makeMessage("assistant", content, extra);

describe("toRequestMessages", () => {
  it("sends user turns and finished replies as {role, content}", () => {
    const out = toRequestMessages([user("hi"), bot("hello!"), user("how are you?")]);
    expect(out).toEqual([
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello!" },
      { role: "user", content: "how are you?" },
    ]);
  });

  it("leaves out errors, empty and streaming replies, and merges turns that then touch", () => {
    const out = toRequestMessages([
      user("first"), bot("", { status: "error" }), user("second"), bot("   "), user("third"), bot("partial", { status: "streaming" }),
    ]);
    expect(out).toEqual([{ role: "user", content: "first\n\nsecond\n\nthird" }]);
  });

  it("keeps a stopped reply's text (what the person saw)", () => {
    const out = toRequestMessages([user("tell me"), bot("once upon", { status: "stopped" }), user("go on")]);
    expect(out.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(out[1].content).toBe("once upon");
  });

  it("keeps the last turns only, starting with a user turn", () => {
    const long = [];
    for (let i = 0; i < 60; i++) long.push(i % 2 ? bot(`b${i}`) : user(`u${i}`));
    long.push(user("last"));
    const out = toRequestMessages(long);
    expect(out.length).toBeLessThanOrEqual(MAX_SENT_MESSAGES);
    expect(out[0].role).toBe("user");
    expect(out[out.length - 1].content).toBe("last");
  });
});

describe("retry", () => {
  it("drops everything after the last user turn", () => {
    const t = [user("a"), bot("b"), user("c"), bot("d", { status: "stopped" })];
    expect(transcriptForRetry(t).map((m) => m.content)).toEqual(["a", "b", "c"]);
    expect(canRetry(t)).toBe(true);
  });

  it("is not possible with no user turn or while streaming", () => {
    expect(canRetry([])).toBe(false);
    expect(canRetry([user("a"), bot("", { status: "streaming" })])).toBe(false);
  });
});

describe("transcript storage", () => {
  beforeEach(() => {
    const store = new Map();
    globalThis.sessionStorage = {
      getItem: (k) => (store.has(k) ? store.get(k) : null),
      setItem: (k, v) => store.set(k, String(v)),
      removeItem: (k) => store.delete(k),
    };
  });

  it("round-trips and marks an interrupted reply as stopped", () => {
    saveTranscript([user("q"), bot("half", { status: "streaming" })]);
    const loaded = loadTranscript();
    expect(loaded.map((m) => [m.role, m.content, m.status])).toEqual([["user", "q", "done"], ["assistant", "half", "stopped"]]);
  });

  it("survives garbage in storage", () => {
    sessionStorage.setItem(STORAGE_KEY, "{not json");
    expect(loadTranscript()).toEqual([]);
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify([{ role: "system", content: "x" }, { role: "user", content: 3 }]));
    expect(loadTranscript()).toEqual([]);
  });

  it("falls back to memory when storage throws", () => {
    globalThis.sessionStorage = { getItem() { throw new Error("blocked"); }, setItem() { throw new Error("blocked"); }, removeItem() {} };
    saveTranscript([user("kept in memory")]);
    expect(loadTranscript()[0].content).toBe("kept in memory");
  });
});
