/**
 * Talking to the gateway: JSON requests, the gateway's JSON errors turned into ApiError values with a
 * message a person can act on, and the chat stream (SSE over POST, or a buffered JSON answer).
 */

import { loadConfig } from "./config.js";
import { SseParser } from "./sse.js";

/** A failed API call: HTTP status (0 = never reached the server), error code, message, retryable. */
export class ApiError extends Error {
  constructor({ status = 0, code = "network_error", message, retryable = false, requestId = null }) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryable = retryable;
    this.requestId = requestId;
  }
}

/** Build an ApiError from a non-2xx response body (the gateway's shape, or anything else). */
export function errorFromResponse(status, bodyText, statusText = "") {
  let body = null;
  try {
    body = JSON.parse(bodyText);
  } catch {
    // not JSON: e.g. an HTML error page from a proxy
  }
  const err = body && typeof body.error === "object" && body.error ? body.error : null;
  if (err && typeof err.message === "string") {
    return new ApiError({
      status,
      code: err.code || "error",
      message: err.message,
      retryable: Boolean(err.retryable),
      requestId: body.requestId || null,
    });
  }
  const text = typeof body?.message === "string" ? body.message : statusText || "the server answered with an error";
  return new ApiError({ status, code: `http_${status}`, message: `${text} (HTTP ${status})`, retryable: status >= 500 });
}

function networkError(url, cause) {
  return new ApiError({
    status: 0,
    code: "network_error",
    message: `Could not reach the API at ${url}: is the gateway running, and does it allow this page's origin (CORS)?`,
    retryable: true,
  });
}

/** The full URL of an API path under the configured base. */
export async function apiUrl(path) {
  const { apiBase } = await loadConfig();
  return `${apiBase}${path}`;
}

/** GET or POST JSON; resolves to the parsed answer or rejects with an ApiError. */
export async function requestJson(path, { method = "GET", body, signal } = {}) {
  const url = await apiUrl(path);
  let response;
  try {
    response = await fetch(url, {
      method,
      signal,
      headers: body === undefined ? { Accept: "application/json" } : { "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    if (cause?.name === "AbortError") throw cause;
    throw networkError(url, cause);
  }
  const text = await response.text();
  if (!response.ok) throw errorFromResponse(response.status, text, response.statusText);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError({ status: response.status, code: "bad_response", message: `The API answered ${path} with something that is not JSON.` });
  }
}

/** POST /predict/{model}; adds the round trip measured in the browser as `clientMs`. */
export async function predict(model, payload, { signal } = {}) {
  const started = performance.now();
  const answer = await requestJson(`/predict/${encodeURIComponent(model)}`, { method: "POST", body: payload, signal });
  return { ...answer, clientMs: performance.now() - started };
}

/**
 * POST /chat with stream: true. Calls onDelta(text) for each streamed piece and resolves to the final
 * summary {reply, stopReason, usage, latencyMs, model, provider, streamed, firstTokenMs}. A buffered JSON
 * answer (platforms that cannot stream) is accepted too: its reply arrives as one delta.
 */
export async function streamChat(messages, { signal, onDelta = () => {}, maxTokens } = {}) {
  const url = await apiUrl("/chat");
  const started = performance.now();
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      signal,
      headers: { "Content-Type": "application/json", Accept: "text/event-stream, application/json" },
      body: JSON.stringify({ messages, stream: true, ...(maxTokens ? { maxTokens } : {}) }),
    });
  } catch (cause) {
    if (cause?.name === "AbortError") throw cause;
    throw networkError(url, cause);
  }
  if (!response.ok) throw errorFromResponse(response.status, await response.text(), response.statusText);
  const type = response.headers.get("content-type") || "";
  if (!type.includes("text/event-stream")) {
    const answer = JSON.parse(await response.text());
    if (answer.reply) onDelta(answer.reply);
    return { ...answer, streamed: false, firstTokenMs: performance.now() - started, clientMs: performance.now() - started };
  }
  return readChatStream(response.body, { onDelta, started });
}

/** Read a chat event stream to its end; resolves to the summary, rejects with ApiError on an error event. */
export async function readChatStream(body, { onDelta, started = performance.now() }) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let reply = "";
  let summary = null;
  let firstTokenMs = null;
  const handle = (event) => {
    if (event.data === "[DONE]") return;
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return; // not ours: ignore rather than break the conversation
    }
    if (data.error || event.event === "error") {
      const err = typeof data.error === "object" && data.error ? data.error : data;
      throw new ApiError({
        status: 200,
        code: err.code || "stream_error",
        message: err.message || (typeof data.error === "string" ? data.error : "the reply stream failed"),
        retryable: Boolean(err.retryable),
      });
    }
    if (typeof data.delta === "string") {
      if (firstTokenMs === null) firstTokenMs = performance.now() - started;
      reply += data.delta;
      onDelta(data.delta);
    }
    if (data.done || "stopReason" in data || "usage" in data || "reply" in data) summary = { ...(summary || {}), ...data };
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const event of parser.push(decoder.decode(value, { stream: true }))) handle(event);
  }
  for (const event of parser.push(decoder.decode() + "\n\n")) handle(event);
  return {
    ...(summary || {}),
    reply: summary?.reply ?? reply,
    streamed: true,
    firstTokenMs,
    clientMs: performance.now() - started,
  };
}
