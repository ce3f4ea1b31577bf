// The browser's MNIST preprocessing against golden vectors from the Python preprocessing that both digit
// models use (src/modelport/bundled_models/shared/mnist_preprocessing.py, via page/scripts/make_golden.py): within 1/255 a pixel.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { preprocessRgba } from "../lib/preprocess.js";

const here = dirname(fileURLToPath(import.meta.url));
const folder = join(here, "golden");
const files = readdirSync(folder).filter((f) => f.endsWith(".json")).sort();

/** The golden picture's raw bytes (L, RGB or RGBA) as RGBA, as a canvas would hand them over. */
function toRgba({ mode, width, height, data }) {
  const raw = Buffer.from(data, "base64");
  const channels = { L: 1, RGB: 3, RGBA: 4 }[mode];
  expect(raw.length).toBe(width * height * channels);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    if (channels === 1) rgba.set([raw[i], raw[i], raw[i], 255], i * 4);
    else if (channels === 3) rgba.set([raw[i * 3], raw[i * 3 + 1], raw[i * 3 + 2], 255], i * 4);
    else rgba.set(raw.subarray(i * 4, i * 4 + 4), i * 4);
  }
  return rgba;
}

describe("preprocessing agrees with the Python implementation", () => {
  it("has golden vectors to check", () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of files) {
    const golden = JSON.parse(readFileSync(join(folder, file), "utf8"));
    it(`${golden.name} (${golden.input.mode} ${golden.input.width}×${golden.input.height})`, () => {
      const { width, height } = golden.input;
      const out = preprocessRgba(toRgba(golden.input), width, height, { invert: "auto" });
      expect(out).not.toBeNull();
      expect(out.pixels).toHaveLength(784);
      let worst = 0, at = -1;
      for (let i = 0; i < 784; i++) {
        const d = Math.abs(out.pixels[i] - golden.expected[i]);
        if (d > worst) { worst = d; at = i; }
      }
      expect(worst, `largest difference ${worst.toFixed(5)} at row ${Math.floor(at / 28)}, column ${at % 28}`).toBeLessThanOrEqual(1 / 255);
    });
  }
});
