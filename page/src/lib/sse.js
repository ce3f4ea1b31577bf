/**
 * An incremental parser for Server-Sent Events read from a fetch() body (EventSource cannot POST).
 * Follows the WHATWG event-stream rules: lines end in \n, \r\n or \r; `data:` lines of one event are
 * joined with \n; a blank line dispatches; lines starting with ":" are comments; one space after the
 * colon is dropped. Chunks may split anywhere, even inside a line ending.
 */

export class SseParser {
  constructor() {
    this.buffer = "";
    this.data = [];
    this.event = "";
    this.id = "";
  }

  /** Feed a text chunk; returns the events completed by it: [{event, data, id}]. */
  push(chunk) {
    this.buffer += chunk;
    const events = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  /** End of stream: an event without its final blank line is dropped, as the spec says. */
  finish() {
    this.buffer = "";
    this.data = [];
    this.event = "";
    return [];
  }

  line(line) {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return null;
      }
      const event = { event: this.event || "message", data: this.data.join("\n"), id: this.id };
      this.data = [];
      this.event = "";
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}

/** Parse a whole event-stream text at once (handy for tests and buffered answers). */
export function parseSse(text) {
  const parser = new SseParser();
  return parser.push(text.endsWith("\n") ? text : `${text}\n`);
}
