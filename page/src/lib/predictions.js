/** Turning a model's answer into what the page shows: the top label and one score per class. */

/**
 * From a `/predict` answer ({predictions: [{label, probabilities}]}) to {label, scores: [{label, probability}]}.
 * `probabilities` may be a list (in the order of `labels`, or 0..n-1) or an object {label: probability}.
 * Returns null when the answer has no prediction in a shape the page knows.
 */
export function readPrediction(answer, labels = []) {
  const first = Array.isArray(answer?.predictions) ? answer.predictions[0] : null;
  if (!first || typeof first !== "object") return null;
  const probs = first.probabilities;
  let scores = [];
  if (Array.isArray(probs)) {
    scores = probs.map((p, i) => ({ label: String(labels[i] ?? i), probability: Number(p) }));
  } else if (probs && typeof probs === "object") {
    const order = labels.length ? labels.filter((l) => l in probs) : Object.keys(probs);
    const rest = Object.keys(probs).filter((l) => !order.includes(l));
    scores = [...order, ...rest].map((l) => ({ label: String(l), probability: Number(probs[l]) }));
  }
  let label = first.label ?? first.prediction;
  if (label === undefined && scores.length) label = topScore(scores).label;
  if (label === undefined) return null;
  return { label: String(label), scores };
}

/** The score with the highest probability. */
export function topScore(scores) {
  return scores.reduce((best, s) => (best === null || s.probability > best.probability ? s : best), null);
}

/** A one-line text equivalent of a chart, for screen readers: "7 at 98.1%, then 1 at 0.9%". */
export function describeScores(scores, format) {
  const sorted = [...scores].sort((a, b) => b.probability - a.probability);
  if (!sorted.length) return "";
  const [best, second] = sorted;
  const head = `${best.label} at ${format(best.probability)}`;
  return second ? `${head}, then ${second.label} at ${format(second.probability)}` : head;
}
