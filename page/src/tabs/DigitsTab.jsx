/**
 * Digits: draw (mouse, pen, touch), upload a picture or pick a sample; the page preprocesses like MNIST,
 * shows the 28×28 input, and asks every digit model at once, answers side by side.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import Alert from "../components/Alert.jsx";
import DrawingCanvas from "../components/DrawingCanvas.jsx";
import PixelPreview from "../components/PixelPreview.jsx";
import ProbabilityChart from "../components/ProbabilityChart.jsx";
import { ApiError, predict } from "../lib/api.js";
import { describeScores, readPrediction } from "../lib/predictions.js";
import { formatMs, formatPercent } from "../lib/format.js";
import { compactPixels, preprocessRgba } from "../lib/preprocess.js";
import samplesFile from "../data/samples.json";

const DEBOUNCE_MS = 250;
const MAX_UPLOAD_SIDE = 1024;
const DIGIT_LABELS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const NICE_NAMES = { "mnist-sklearn": "scikit-learn", "mnist-pytorch": "PyTorch CNN" };

export default function DigitsTab({ models, onLatency }) {
  const canvasRef = useRef(null);
  const [strokes, setStrokes] = useState([]);
  const [backdrop, setBackdrop] = useState(null); // {kind: "upload"|"sample", draw(ctx, size), pixels?, name}
  const [input, setInput] = useState(null); // {pixels, note}
  const [results, setResults] = useState({});
  const [notice, setNotice] = useState("");
  const [sampleIndex, setSampleIndex] = useState("");
  const timer = useRef(null);
  const inflight = useRef(null);
  const sequence = useRef(0);

  const digitModels = useMemo(() => {
    const list = models.filter((m) => m.kind === "image-classifier");
    return list.length ? list : [{ name: "mnist-sklearn", labels: DIGIT_LABELS }, { name: "mnist-pytorch", labels: DIGIT_LABELS }];
  }, [models]);

  const ask = useCallback(
    (pixels) => {
      inflight.current?.abort();
      const controller = new AbortController();
      inflight.current = controller;
      const seq = ++sequence.current;
      const body = { pixels: compactPixels(pixels) };
      setResults((old) => Object.fromEntries(digitModels.map((m) => [m.name, { ...old[m.name], loading: true }])));
      for (const model of digitModels) {
        predict(model.name, body, { signal: controller.signal })
          .then((answer) => {
            if (seq !== sequence.current) return;
            const prediction = readPrediction(answer, model.labels?.length ? model.labels : DIGIT_LABELS);
            if (!prediction) throw new ApiError({ code: "bad_response", message: `${model.name} answered in a shape this page does not know.` });
            onLatency?.(model.name, answer.latencyMs, answer.clientMs);
            setResults((old) => ({ ...old, [model.name]: { loading: false, prediction, latency: answer.latencyMs, clientMs: answer.clientMs } }));
          })
          .catch((error) => {
            if (error?.name === "AbortError" || seq !== sequence.current) return;
            setResults((old) => ({ ...old, [model.name]: { loading: false, error } }));
          });
      }
    },
    [digitModels, onLatency],
  );

  const readCanvas = useCallback(() => {
    const canvas = canvasRef.current;
    const ctx = canvas.getContext("2d");
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return preprocessRgba(image.data, canvas.width, canvas.height, { invert: false });
  }, []);

  const runFromCanvas = useCallback(() => {
    const out = readCanvas();
    if (!out) {
      setInput(null);
      setResults({});
      setNotice("The drawing is empty: draw a digit to get predictions.");
      return;
    }
    setNotice("");
    setInput({ pixels: out.pixels, note: "your drawing" });
    ask(out.pixels);
  }, [ask, readCanvas]);

  const schedule = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(runFromCanvas, DEBOUNCE_MS);
  }, [runFromCanvas]);

  useEffect(() => () => clearTimeout(timer.current), []);

  function onStrokeStart() {
    if (backdrop?.kind === "upload") {
      // an uploaded photo is dark-on-light; white ink on it would mix two conventions: start afresh
      setBackdrop(null);
    }
  }

  function onStrokeEnd(stroke) {
    setStrokes((old) => [...old, stroke]);
    schedule();
  }

  function clear() {
    clearTimeout(timer.current);
    inflight.current?.abort();
    sequence.current++;
    setStrokes([]);
    setBackdrop(null);
    setInput(null);
    setResults({});
    setSampleIndex("");
    setNotice("Cleared. Draw a digit, upload an image or pick a sample.");
  }

  function undo() {
    if (!strokes.length) return;
    setStrokes((old) => old.slice(0, -1));
    // predict after the redraw has happened
    clearTimeout(timer.current);
    timer.current = setTimeout(runFromCanvas, DEBOUNCE_MS);
  }

  async function onUpload(event) {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    try {
      const bitmap = await loadImage(file);
      const { rgba, width, height } = rasterise(bitmap);
      const out = preprocessRgba(rgba, width, height, { invert: "auto" });
      setStrokes([]);
      setSampleIndex("");
      setBackdrop({ kind: "upload", name: file.name, draw: (ctx, size) => drawContained(ctx, bitmap, size) });
      if (!out) {
        setInput(null);
        setResults({});
        setNotice(`${file.name} looks blank: no digit found. Upload a picture of one digit.`);
        return;
      }
      const how = out.alpha ? " (transparent, so its strokes are the ink)" : out.inverted ? " (dark on light, so inverted)" : "";
      setNotice(`Read ${file.name}${how}.`);
      setInput({ pixels: out.pixels, note: `${file.name}${out.inverted ? ", inverted (dark ink on light paper)" : ""}` });
      ask(out.pixels);
    } catch (error) {
      setNotice("");
      setResults({});
      setInput(null);
      setResults({ _upload: { error: new ApiError({ code: "bad_image", message: `Could not read ${file.name} as an image (${error.message}). PNG, JPEG, GIF, WebP and BMP work.` }) } });
    }
  }

  function onSample(event) {
    const value = event.target.value;
    setSampleIndex(value);
    if (value === "") return;
    const sample = samplesFile.samples[Number(value)];
    const pixels = Float32Array.from(sample.pixels, (v) => v / 255);
    setStrokes([]);
    setBackdrop({ kind: "sample", draw: (ctx, size) => drawPixels(ctx, pixels, size) });
    setNotice(`Sample digit: a ${sample.label} from the held-out MNIST test split, sent as is.`);
    setInput({ pixels, note: `MNIST test digit #${sample.index}, as it is in the data set` });
    ask(pixels);
  }

  const uploadError = results._upload?.error;
  const anyLoading = digitModels.some((m) => results[m.name]?.loading);

  return (
    <div className="digits">
      <div className="card draw-card">
        <h2 className="card-title">Draw a digit</h2>
        <p id="draw-help" className="hint">
          Draw one digit, 0 to 9, large and centred. Predictions update as you draw.
        </p>
        <div className="canvas-frame">
          <DrawingCanvas
            canvasRef={canvasRef}
            strokes={strokes}
            backdrop={backdrop?.draw || null}
            onStrokeStart={onStrokeStart}
            onDraw={schedule}
            onStrokeEnd={onStrokeEnd}
            describedBy="draw-help"
          />
        </div>
        <div className="toolbar">
          <button type="button" className="button" onClick={undo} disabled={!strokes.length}>
            Undo
          </button>
          <button type="button" className="button" onClick={clear}>
            Clear
          </button>
          <label className="button file-button">
            Upload image
            <input type="file" accept="image/*" className="visually-hidden" onChange={onUpload} data-testid="upload" />
          </label>
        </div>
        <div className="field">
          <label htmlFor="sample-select">Or pick a sample digit</label>
          <select id="sample-select" value={sampleIndex} onChange={onSample}>
            <option value="">Choose a test digit…</option>
            {samplesFile.samples.map((s, i) => (
              <option key={s.index} value={i}>{`A ${s.label} (test #${s.index})`}</option>
            ))}
          </select>
        </div>
        <p className="notice" role="status" aria-live="polite">{notice}</p>
      </div>

      <div className="card input-card">
        <h2 className="card-title">What the models see</h2>
        <div className="input-row">
          <PixelPreview pixels={input?.pixels} size={140} label={input ? `The 28 by 28 input sent to the models: ${input.note}` : "No input yet"} />
          <p className="hint">
            {input ? `Sent: ${input.note}.` : "Nothing yet."} The models read 28×28 grayscale digits like MNIST's: the ink is
            cropped, fitted into 20×20 keeping its shape, and placed so its centre of mass sits at the middle.
          </p>
        </div>
      </div>

      <div className="results" aria-busy={anyLoading}>
        <h2 className="visually-hidden">Predictions</h2>
        {uploadError && <Alert error={uploadError} title="Upload failed" />}
        {digitModels.map((m) => (
          <DigitResult key={m.name} model={m} result={results[m.name]} />
        ))}
      </div>
    </div>
  );
}

function DigitResult({ model, result }) {
  const nice = NICE_NAMES[model.name] || model.name;
  const prediction = result?.prediction;
  return (
    <article className="card result-card" data-testid={`result-${model.name}`} aria-labelledby={`title-${model.name}`}>
      <header className="result-head">
        <h3 id={`title-${model.name}`} className="card-title">{nice}</h3>
        <code className="model-name">{model.name}</code>
      </header>
      <div role="status" aria-live="polite" aria-atomic="true" className="result-body">
        {result?.error ? (
          <Alert error={result.error} title={`${model.name} is unavailable`} />
        ) : prediction ? (
          <>
            <p className="big-label">
              <span className="visually-hidden">{`${model.name} predicts `}</span>
              <span className="digit" data-testid={`label-${model.name}`}>{prediction.label}</span>
              <span className="confidence">
                {formatPercent(prediction.scores.find((s) => s.label === prediction.label)?.probability)}
                <span className="visually-hidden"> confidence</span>
              </span>
            </p>
          </>
        ) : (
          <p className="placeholder">{result?.loading ? "Asking…" : "Waiting for a digit"}</p>
        )}
      </div>
      {prediction && (
        <>
          <ProbabilityChart scores={prediction.scores} caption={`Probabilities from ${model.name}: ${describeScores(prediction.scores, formatPercent)}.`} />
          <p className="latency">
            model {formatMs(result.latency?.model)} · gateway {formatMs(result.latency?.total)} · round trip {formatMs(result.clientMs)}
          </p>
        </>
      )}
    </article>
  );
}

async function loadImage(file) {
  if (typeof createImageBitmap === "function") {
    try {
      return await createImageBitmap(file);
    } catch {
      // fall back to <img> below (e.g. formats createImageBitmap refuses)
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.decoding = "async";
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

function sourceSize(image) {
  return { w: image.naturalWidth || image.width, h: image.naturalHeight || image.height };
}

/** The uploaded picture as RGBA (transparency kept: the preprocessing reads alpha as ink), at most 1024 px a side. */
function rasterise(image) {
  const { w, h } = sourceSize(image);
  if (!w || !h) throw new Error("the image has no size");
  const scale = Math.min(1, MAX_UPLOAD_SIDE / Math.max(w, h));
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, 0, 0, width, height);
  return { rgba: ctx.getImageData(0, 0, width, height).data, width, height };
}

function drawContained(ctx, image, size) {
  const { w, h } = sourceSize(image);
  const scale = Math.min(size / w, size / h);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  ctx.drawImage(image, (size - w * scale) / 2, (size - h * scale) / 2, w * scale, h * scale);
}

function drawPixels(ctx, pixels, size) {
  const cell = size / 28;
  for (let i = 0; i < 784; i++) {
    const v = Math.round(pixels[i] * 255);
    if (!v) continue;
    ctx.fillStyle = `rgb(${v},${v},${v})`;
    ctx.fillRect((i % 28) * cell, Math.floor(i / 28) * cell, cell + 0.5, cell + 0.5);
  }
}
