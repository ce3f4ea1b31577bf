import { describe, expect, it } from "vitest";
import { describeStopReason, formatCount, formatMs, formatPercent } from "../lib/format.js";
import { newId } from "../lib/id.js";
import { describeScores, readPrediction, topScore } from "../lib/predictions.js";
import { normaliseBase } from "../lib/config.js";

describe("formatting", () => {
  it("formats percentages", () => {
    expect(formatPercent(0.9731)).toBe("97.3%");
    expect(formatPercent(0)).toBe("0.0%");
    expect(formatPercent(0.0004)).toBe("<0.1%");
    expect(formatPercent(0.99999)).toBe(">99.9%");
    expect(formatPercent(1)).toBe("100.0%");
    expect(formatPercent(undefined)).toBe("–");
  });

  it("formats milliseconds", () => {
    expect(formatMs(0.84)).toBe("0.8 ms");
    expect(formatMs(12.4)).toBe("12 ms");
    expect(formatMs(1240)).toBe("1.24 s");
    expect(formatMs(null)).toBe("–");
  });

  it("formats counts and stop reasons", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(12)).toBe("12");
    expect(describeStopReason("max_tokens")).toBe("cut at the token limit");
    expect(describeStopReason("end_turn")).toBe("finished");
    expect(describeStopReason("something_new")).toBe("something new");
    expect(describeStopReason(undefined)).toBe("");
  });
});

describe("ids", () => {
  it("are unique without crypto.randomUUID (plain-HTTP pages)", () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
    Object.defineProperty(globalThis, "crypto", { value: {}, configurable: true });
    try {
      const ids = new Set(Array.from({ length: 1000 }, newId));
      expect(ids.size).toBe(1000);
    } finally {
      Object.defineProperty(globalThis, "crypto", saved);
    }
  });
});

describe("readPrediction", () => {
  it("reads the MNIST shape (list of probabilities)", () => {
    const probs = [0.01, 0, 0, 0, 0, 0, 0, 0.98, 0.01, 0];
    const p = readPrediction({ predictions: [{ label: 7, probabilities: probs }] }, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    expect(p.label).toBe("7");
    expect(p.scores).toHaveLength(10);
    expect(p.scores[7]).toEqual({ label: "7", probability: 0.98 });
  });

  it("reads the sentiment shape (object of probabilities) in the labels' order", () => {
    const p = readPrediction(
      { predictions: [{ label: "negative", probabilities: { positive: 0.1, negative: 0.7, neutral: 0.2 } }] },
      ["negative", "neutral", "positive"],
    );
    expect(p.label).toBe("negative");
    expect(p.scores.map((s) => s.label)).toEqual(["negative", "neutral", "positive"]);
  });

  it("takes the top class when the label is missing, and refuses unknown shapes", () => {
    expect(readPrediction({ predictions: [{ probabilities: [0.2, 0.8] }] }).label).toBe("1");
    expect(readPrediction({ result: 3 })).toBeNull();
    expect(readPrediction({ predictions: [{}] })).toBeNull();
  });

  it("describes scores for screen readers", () => {
    const scores = [{ label: "a", probability: 0.1 }, { label: "b", probability: 0.7 }, { label: "c", probability: 0.2 }];
    expect(topScore(scores).label).toBe("b");
    expect(describeScores(scores, formatPercent)).toBe("b at 70.0%, then c at 20.0%");
  });
});

describe("config", () => {
  it("normalises the API base", () => {
    expect(normaliseBase("https://abc.execute-api.us-east-1.amazonaws.com/prod/")).toBe("https://abc.execute-api.us-east-1.amazonaws.com/prod");
    expect(normaliseBase(" ")).toBe("");
    expect(normaliseBase(undefined)).toBe("");
  });
});
