import { describe, expect, it } from "vitest";
import {
  FILTERS, centreOfMass, inkBox, preprocessGray, preprocessRgba, resampleCoefficients, resize, rgbaToGray, roundHalfEven,
} from "../lib/preprocess.js";

function image(width, height, paint) {
  const g = new Float64Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) g[y * width + x] = paint(x, y);
  return g;
}

describe("building blocks", () => {
  it("rounds half to even like Python", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });

  it("converts RGBA to Pillow's L", () => {
    const rgba = new Uint8ClampedArray([255, 255, 255, 255, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]);
    expect(Array.from(rgbaToGray(rgba, 4, 1))).toEqual([255, 76, 150, 29]);
  });

  it("has normalised resampling weights for every filter", () => {
    for (const name of Object.keys(FILTERS)) {
      for (const [inSize, outSize] of [[100, 20], [7, 20], [20, 20], [3, 1]]) {
        for (const { weights } of resampleCoefficients(inSize, outSize, FILTERS[name])) {
          expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        }
      }
    }
  });

  it("box-downscales by averaging", () => {
    const out = resize(Float32Array.from([0, 1, 1, 1, 0, 0, 0, 1]), 4, 2, 2, 1, "box");
    expect(Array.from(out)).toEqual([0.25, 0.75]);
  });

  it("keeps a flat image flat with any filter", () => {
    const flat = new Float32Array(37 * 23).fill(0.6);
    for (const name of Object.keys(FILTERS)) {
      for (const v of resize(flat, 37, 23, 20, 12, name)) expect(v).toBeCloseTo(0.6, 5);
    }
  });

  it("finds the ink box and the centre of mass", () => {
    const g = image(10, 8, (x, y) => (x >= 2 && x <= 4 && y >= 3 && y <= 6 ? 1 : 0));
    expect(inkBox(g, 10, 8)).toEqual({ left: 2, top: 3, right: 5, bottom: 7 });
    expect(centreOfMass(g, 10, 8)).toEqual({ x: 3, y: 4.5 });
    expect(inkBox(new Float64Array(4), 2, 2)).toBeNull();
  });
});

describe("preprocessGray", () => {
  const disc = (cx, cy, r, w = 280, h = 280) => image(w, h, (x, y) => ((x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 255 : 0));

  it("returns null for an empty drawing", () => {
    expect(preprocessGray(new Float64Array(280 * 280), 280, 280)).toBeNull();
  });

  it("fits the ink into 20 px and centres its mass on (14, 14), wherever it was drawn", () => {
    for (const [cx, cy] of [[40, 40], [200, 150], [140, 250]]) {
      const { pixels } = preprocessGray(disc(cx, cy, 25), 280, 280);
      expect(pixels).toHaveLength(784);
      const box = inkBox(pixels, 28, 28, 0.01);
      expect(Math.max(box.right - box.left, box.bottom - box.top)).toBeLessThanOrEqual(20);
      const com = centreOfMass(pixels, 28, 28);
      expect(Math.abs(com.x - 14)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(com.y - 14)).toBeLessThanOrEqual(0.5);
      expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
      expect(Math.min(...pixels)).toBeGreaterThanOrEqual(0);
    }
  });

  it("keeps the aspect ratio of a tall stroke", () => {
    const bar = image(200, 200, (x, y) => (x >= 90 && x < 110 && y >= 20 && y < 180 ? 255 : 0));
    const box = inkBox(preprocessGray(bar, 200, 200).pixels, 28, 28, 0.05);
    expect(box.bottom - box.top).toBe(20);
    expect(box.right - box.left).toBeLessThanOrEqual(5);
  });

  it("inverts dark ink on light paper automatically, and only then", () => {
    const paper = image(100, 100, (x, y) => ((x - 50) ** 2 + (y - 50) ** 2 <= 400 ? 20 : 240));
    const a = preprocessGray(paper, 100, 100);
    expect(a.inverted).toBe(true);
    const ink = image(100, 100, (x, y) => ((x - 50) ** 2 + (y - 50) ** 2 <= 400 ? 235 : 15));
    const b = preprocessGray(ink, 100, 100);
    expect(b.inverted).toBe(false);
    for (let i = 0; i < 784; i++) expect(Math.abs(a.pixels[i] - b.pixels[i])).toBeLessThan(1e-6);
  });

  it("reads a canvas's RGBA the same as its gray values", () => {
    const g = disc(100, 120, 30, 200, 200);
    const rgba = new Uint8ClampedArray(200 * 200 * 4);
    for (let i = 0; i < g.length; i++) rgba.set([g[i], g[i], g[i], 255], i * 4);
    expect(Array.from(preprocessRgba(rgba, 200, 200).pixels)).toEqual(Array.from(preprocessGray(g, 200, 200).pixels));
  });

  it("says what it expected when the sizes disagree", () => {
    expect(() => preprocessGray(new Float64Array(10), 4, 4)).toThrow(/4×4 = 16 gray values, got 10/);
  });
});
