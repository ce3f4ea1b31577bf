import { describe, expect, it } from "vitest";
import { SseParser, parseSse } from "../lib/sse.js";

describe("SseParser", () => {
  it("parses data events and joins multi-line data", () => {
    const events = parseSse('data: {"delta":"Hel"}\n\ndata: line one\ndata: line two\n\n');
    expect(events.map((e) => e.data)).toEqual(['{"delta":"Hel"}', "line one\nline two"]);
    expect(events[0].event).toBe("message");
  });

  it("handles chunks split anywhere, including inside CRLF", () => {
    const text = 'event: summary\r\ndata: {"a":1}\r\n\r\ndata: x\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(events).toEqual([
        { event: "summary", data: '{"a":1}', id: "" },
        { event: "message", data: "x", id: "" },
      ]);
    }
  });

  it("ignores comments, keeps a value's inner spaces, accepts bare CR and fields without a colon", () => {
    const events = parseSse(": keep-alive\rdata:  two spaces\r\rdata\r\r");
    expect(events.map((e) => e.data)).toEqual([" two spaces", ""]);
  });

  it("does not dispatch an event that never got its blank line", () => {
    const p = new SseParser();
    expect(p.push("data: partial\n")).toEqual([]);
    expect(p.finish()).toEqual([]);
  });

  it("records the last event id", () => {
    const [event] = parseSse("id: 42\ndata: x\n\n");
    expect(event.id).toBe("42");
  });
});
