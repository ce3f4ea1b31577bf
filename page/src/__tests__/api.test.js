import { afterEach, describe, expect, it } from "vitest";
import { ApiError, errorFromResponse, readChatStream } from "../lib/api.js";
import { loadConfig, resetConfig } from "../lib/config.js";

function streamOf(chunks) {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

describe("errorFromResponse", () => {
  it("reads the gateway's error shape", () => {
    const body = JSON.stringify({ error: { code: "model_not_configured", message: "model 'x' is not configured", retryable: false }, requestId: "r1" });
    const e = errorFromResponse(503, body);
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.code, e.message, e.retryable, e.requestId]).toEqual([503, "model_not_configured", "model 'x' is not configured", false, "r1"]);
  });

  it("copes with non-JSON bodies and other JSON shapes", () => {
    expect(errorFromResponse(502, "<html>Bad Gateway</html>", "Bad Gateway").message).toBe("Bad Gateway (HTTP 502)");
    const e = errorFromResponse(403, JSON.stringify({ message: "Forbidden" }));
    expect(e.message).toBe("Forbidden (HTTP 403)");
    expect(e.retryable).toBe(false);
  });
});

describe("readChatStream", () => {
  it("streams deltas and returns the final summary", async () => {
    const deltas = [];
    const summary = await readChatStream(
      streamOf([
        'data: {"delta":"Hel',
        'lo"}\n\ndata: {"delta":" **world**"}\n\n',
        'data: {"reply":"Hello **world**","stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":3},"latencyMs":42,"model":"m","provider":"p"}\n\n',
        "data: [DONE]\n\n",
      ]),
      { onDelta: (d) => deltas.push(d) },
    );
    expect(deltas).toEqual(["Hello", " **world**"]);
    expect(summary.reply).toBe("Hello **world**");
    expect(summary.stopReason).toBe("end_turn");
    expect(summary.usage).toEqual({ inputTokens: 5, outputTokens: 3 });
    expect(summary.streamed).toBe(true);
    expect(typeof summary.firstTokenMs).toBe("number");
  });

  it("accepts a final {done: true} event without the reply, and named error events", async () => {
    const summary = await readChatStream(
      streamOf(['data: {"delta":"Hi"}\n\n', 'data: {"done":true,"stopReason":"max_tokens","usage":{"inputTokens":1,"outputTokens":1},"model":"m"}\n\n']),
      { onDelta: () => {} },
    );
    expect([summary.reply, summary.stopReason, summary.model]).toEqual(["Hi", "max_tokens", "m"]);
    const run = readChatStream(streamOf(['event: error\ndata: {"code":"provider_error","message":"upstream closed"}\n\n']), { onDelta: () => {} });
    await expect(run).rejects.toMatchObject({ code: "provider_error", message: "upstream closed" });
  });

  it("builds the reply from deltas when the stream ends without a summary", async () => {
    const summary = await readChatStream(streamOf(['data: {"delta":"a"}\n\ndata: {"delta":"b"}']), { onDelta: () => {} });
    expect(summary.reply).toBe("ab");
  });

  it("rejects with an ApiError on an error event", async () => {
    const run = readChatStream(
      streamOf(['data: {"delta":"x"}\n\n', 'data: {"error":{"code":"backend_timeout","message":"took too long","retryable":true}}\n\n']),
      { onDelta: () => {} },
    );
    await expect(run).rejects.toMatchObject({ name: "ApiError", code: "backend_timeout", retryable: true });
  });
});

describe("loadConfig", () => {
  afterEach(resetConfig);

  it("reads apiBase from config.json", async () => {
    const fake = async (url) => ({ ok: true, json: async () => ({ apiBase: "https://api.example.com/prod/" }), url });
    expect(await loadConfig(fake)).toEqual({ apiBase: "https://api.example.com/prod", source: "config.json" });
  });

  it("falls back to the same origin when config.json is missing or broken", async () => {
    expect((await loadConfig(async () => ({ ok: false }))).apiBase).toBe("");
    resetConfig();
    expect((await loadConfig(async () => { throw new TypeError("offline"); })).apiBase).toBe("");
  });
});
