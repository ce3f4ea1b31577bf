/**
 * MNIST-style preprocessing, as pure functions (no DOM), so the browser shows and sends exactly what the
 * server-side preprocessing would make of the same image:
 *
 *   grayscale → auto-invert dark-on-light → crop to the ink → fit the longest side to 20 px (aspect kept,
 *   resampled like Pillow's `Image.resize`) → paste into 28×28 so the centre of mass lands on (14, 14).
 *
 * The output is 784 numbers in 0..1, row by row, ink = 1. Golden vectors produced by the Python
 * implementation (page/scripts/make_golden.py) pin the two together within 1/255 per pixel.
 */

export const SIZE = 28;
export const FIT = 20;
export const CENTRE = 14;

/** Pillow's resampling filters: support radius and kernel, as in Pillow's libImaging/Resample.c. */
export const FILTERS = {
  box: { support: 0.5, kernel: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, kernel: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; } },
  hamming: {
    support: 1,
    kernel: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (0.54 + 0.46 * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    kernel: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: {
    support: 3,
    kernel: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
  },
};

function sinc(x) {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

/** Round half to even, like Python's round() and numpy.round (Math.round rounds half up). */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Luminance of RGBA pixels as 0..255, with Pillow's convert("L") integer formula. */
export function rgbaToGray(rgba, width, height) {
  const gray = new Float64Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const r = rgba[i * 4], g = rgba[i * 4 + 1], b = rgba[i * 4 + 2];
    gray[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  }
  return gray;
}

/** Per output index: first input index, count and normalised weights (Pillow's precompute_coeffs). */
export function resampleCoefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const centre = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(centre - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(centre + support + 0.5)) - xmin;
    const weights = new Float64Array(Math.max(xmax, 0));
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.kernel((x + xmin - centre + 0.5) / filterScale);
      weights[x] = w;
      total += w;
    }
    if (total !== 0) for (let x = 0; x < xmax; x++) weights[x] /= total;
    out.push({ start: xmin, weights });
  }
  return out;
}

/**
 * Resize a float image (any range) like Pillow's `Image.resize` on a mode "F" image: a horizontal pass,
 * then a vertical one, each skipped when that size does not change; results stored as float32.
 */
export function resize(src, width, height, outWidth, outHeight, filterName = "lanczos") {
  const filter = FILTERS[filterName];
  if (!filter) throw new Error(`unknown resampling filter ${filterName}; accepted: ${Object.keys(FILTERS).join(", ")}`);
  let img = Float32Array.from(src);
  let w = width;
  if (outWidth !== width) {
    const coeffs = resampleCoefficients(width, outWidth, filter);
    const next = new Float32Array(outWidth * height);
    for (let y = 0; y < height; y++) {
      for (let xx = 0; xx < outWidth; xx++) {
        const { start, weights } = coeffs[xx];
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += img[y * w + start + k] * weights[k];
        next[y * outWidth + xx] = sum;
      }
    }
    img = next;
    w = outWidth;
  }
  if (outHeight !== height) {
    const coeffs = resampleCoefficients(height, outHeight, filter);
    const next = new Float32Array(w * outHeight);
    for (let yy = 0; yy < outHeight; yy++) {
      const { start, weights } = coeffs[yy];
      for (let x = 0; x < w; x++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += img[(start + k) * w + x] * weights[k];
        next[yy * w + x] = sum;
      }
    }
    img = next;
  }
  return img;
}

/** Bounding box {left, top, right, bottom} (right/bottom exclusive) of pixels above `threshold`, or null. */
export function inkBox(img, width, height, threshold = 0) {
  let left = width, top = height, right = -1, bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (img[y * width + x] > threshold) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
      }
    }
  }
  return right < 0 ? null : { left, top, right: right + 1, bottom: bottom + 1 };
}

/** Intensity-weighted centre of mass {x, y} in pixel-index coordinates (like scipy.ndimage.center_of_mass). */
export function centreOfMass(img, width, height) {
  let total = 0, sx = 0, sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = img[y * width + x];
      total += v;
      sx += v * x;
      sy += v * y;
    }
  }
  return total > 0 ? { x: sx / total, y: sy / total } : { x: (width - 1) / 2, y: (height - 1) / 2 };
}

/** Ink below this share of the strongest stroke is background when cropping. */
export const INK_THRESHOLD = 0.1;
/** A picture whose strongest ink is at most this is blank. */
export const BLANK_PEAK = 0.02;

/**
 * Ink intensity (0..1, 1 = full ink) of RGBA pixels, before cropping. As the Python side does: a picture
 * with transparency uses its alpha as ink (a stroke on a transparent canvas); others are converted to
 * grayscale (Pillow's "L") and inverted when their mean is light (dark ink on white paper), unless
 * `invert` is given as true or false.
 * Returns {ink: Float32Array, inverted, alpha}.
 */
export function imageToInk(rgba, width, height, { invert = "auto" } = {}) {
  const n = width * height;
  if (rgba.length !== n * 4) throw new Error(`expected ${width}×${height}×4 = ${n * 4} RGBA values, got ${rgba.length}`);
  const ink = new Float32Array(n);
  let transparent = false;
  for (let i = 0; i < n; i++) if (rgba[i * 4 + 3] < 255) { transparent = true; break; }
  if (transparent && invert === "auto") {
    for (let i = 0; i < n; i++) ink[i] = rgba[i * 4 + 3] / 255;
    return { ink, inverted: false, alpha: true };
  }
  const gray = rgbaToGray(rgba, width, height);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    ink[i] = gray[i] / 255;
    sum += ink[i];
  }
  const inverted = invert === "auto" ? sum / n > 0.5 : Boolean(invert);
  if (inverted) for (let i = 0; i < n; i++) ink[i] = 1 - ink[i];
  return { ink, inverted, alpha: false };
}

/**
 * Crop, fit 20×20 keeping the aspect ratio and centre by mass in 28×28 (ink: 0..1, light on dark).
 * Returns {pixels: Float32Array(784) in 0..1, box} or null when the picture is blank.
 */
export function preprocessInk(inkIn, width, height) {
  if (inkIn.length !== width * height) {
    throw new Error(`expected ${width}×${height} = ${width * height} ink values, got ${inkIn.length}`);
  }
  let peak = 0;
  for (let i = 0; i < inkIn.length; i++) if (inkIn[i] > peak) peak = inkIn[i];
  if (peak <= BLANK_PEAK) return null;
  // stretch the contrast so the strongest stroke is full ink (float32, like the numpy code)
  const ink = new Float32Array(inkIn.length);
  const fpeak = Math.fround(peak);
  for (let i = 0; i < ink.length; i++) ink[i] = Math.min(1, Math.max(0, Math.fround(Math.fround(inkIn[i]) / fpeak)));
  const box = inkBox(ink, width, height, INK_THRESHOLD);
  const cw = box.right - box.left, ch = box.bottom - box.top;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) crop[y * cw + x] = ink[(box.top + y) * width + box.left + x];
  }
  const scale = FIT / Math.max(cw, ch);
  const fw = Math.max(1, roundHalfEven(cw * scale));
  const fh = Math.max(1, roundHalfEven(ch * scale));
  const fitted = resize(crop, cw, ch, fw, fh, "lanczos");
  for (let i = 0; i < fitted.length; i++) fitted[i] = Math.min(1, Math.max(0, fitted[i]));
  const com = centreOfMass(fitted, fw, fh);
  const left = clamp(roundHalfEven(CENTRE - com.x), 0, SIZE - fw);
  const top = clamp(roundHalfEven(CENTRE - com.y), 0, SIZE - fh);
  const pixels = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < fh; y++) {
    for (let x = 0; x < fw; x++) pixels[(top + y) * SIZE + left + x] = fitted[y * fw + x];
  }
  return { pixels, box };
}

/**
 * Preprocess RGBA pixels (a canvas's ImageData.data) into the 28×28 MNIST input.
 * Options: invert "auto" (uploads: alpha or auto-invert, as the server does) | false (the drawing canvas:
 * white ink on black) | true. Returns {pixels, inverted, alpha, box} or null when there is no ink.
 */
export function preprocessRgba(rgba, width, height, { invert = "auto" } = {}) {
  const { ink, inverted, alpha } = imageToInk(rgba, width, height, { invert });
  const out = preprocessInk(ink, width, height);
  return out && { ...out, inverted, alpha };
}

/** Preprocess gray values (0..255, row by row), auto-inverting dark-on-light; see preprocessRgba. */
export function preprocessGray(gray255, width, height, { invert = "auto" } = {}) {
  if (gray255.length !== width * height) {
    throw new Error(`expected ${width}×${height} = ${width * height} gray values, got ${gray255.length}`);
  }
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < gray255.length; i++) {
    rgba[i * 4] = rgba[i * 4 + 1] = rgba[i * 4 + 2] = gray255[i];
    rgba[i * 4 + 3] = 255;
  }
  return preprocessRgba(rgba, width, height, { invert });
}

/** Round 0..1 floats to 4 decimals for a compact request body (well within 1/255). */
export function compactPixels(pixels) {
  return Array.from(pixels, (v) => Math.round(v * 10000) / 10000);
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}
