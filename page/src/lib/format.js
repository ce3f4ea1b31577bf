/** Small formatting helpers for numbers the page shows (probabilities, latency, tokens, stop reasons). */

/** 0.9731 → "97.3%"; tiny values stay readable ("<0.1%"). */
export function formatPercent(p) {
  if (typeof p !== "number" || Number.isNaN(p)) return "–";
  const pct = p * 100;
  if (pct > 0 && pct < 0.1) return "<0.1%";
  if (pct >= 99.95 && pct < 100) return ">99.9%";
  return `${pct.toFixed(1)}%`;
}

/** Milliseconds as "0.8 ms", "12 ms" or "1.24 s". */
export function formatMs(ms) {
  if (typeof ms !== "number" || Number.isNaN(ms)) return "–";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** 1234 → "1,234" without relying on the browser's locale data. */
export function formatCount(n) {
  if (typeof n !== "number" || Number.isNaN(n)) return "–";
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

const STOP_REASONS = {
  end_turn: "finished",
  stop: "finished",
  stop_sequence: "hit a stop sequence",
  max_tokens: "cut at the token limit",
  length: "cut at the token limit",
  content_filtered: "stopped by the content filter",
  guardrail_intervened: "stopped by a guardrail",
  stopped: "stopped by you",
  aborted: "stopped by you",
};

/** A stop reason from the API ("max_tokens") in words ("cut at the token limit"). */
export function describeStopReason(reason) {
  if (!reason) return "";
  return STOP_REASONS[reason] || String(reason).replace(/_/g, " ");
}
