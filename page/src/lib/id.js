/**
 * Unique ids for list keys and messages. crypto.randomUUID exists only in secure contexts (HTTPS or
 * localhost); the S3 website endpoint is plain HTTP, so fall back to a counter with a random prefix.
 */

let counter = 0;
const prefix = Math.random().toString(36).slice(2, 8);

export function newId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function" && globalThis.isSecureContext !== false) {
    try {
      return c.randomUUID();
    } catch {
      // fall through: some browsers throw outside a secure context
    }
  }
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}
