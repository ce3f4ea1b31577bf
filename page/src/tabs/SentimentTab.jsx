/**
 * Sentiment: type or paste text, get the label with a confidence bar per class (negative / neutral /
 * positive), with example sentences and a character count against the API's limit.
 */
import { useMemo, useRef, useState } from "react";
import Alert from "../components/Alert.jsx";
import ProbabilityChart from "../components/ProbabilityChart.jsx";
import { predict } from "../lib/api.js";
import { describeScores, readPrediction } from "../lib/predictions.js";
import { formatCount, formatMs, formatPercent } from "../lib/format.js";

export const MAX_CHARS = 5000;
const LABELS = ["negative", "neutral", "positive"];
const COLOURS = { negative: "#c0392b", neutral: "#6b7280", positive: "#1e8e4e" };
const EXAMPLES = [
  "I absolutely love this, it made my whole day!",
  "This is the worst service I have ever had. Never again.",
  "The train leaves at nine and arrives in Leeds at noon.",
  "Not bad at all, though the ending felt a bit rushed.",
];

export default function SentimentTab({ models, onLatency }) {
  const [text, setText] = useState("");
  const [state, setState] = useState({});
  const controller = useRef(null);
  const model = useMemo(() => models.find((m) => m.kind === "text-classifier") || { name: "sentiment", labels: LABELS }, [models]);
  const count = text.length;
  const tooLong = count > MAX_CHARS;
  const empty = !text.trim();

  async function analyse(value = text) {
    if (!value.trim() || value.length > MAX_CHARS) return;
    controller.current?.abort();
    const c = new AbortController();
    controller.current = c;
    setState((old) => ({ ...old, loading: true, error: null }));
    try {
      const answer = await predict(model.name, { text: value }, { signal: c.signal });
      const prediction = readPrediction(answer, model.labels?.length ? model.labels : LABELS);
      if (!prediction) throw new Error(`${model.name} answered in a shape this page does not know.`);
      onLatency?.(model.name, answer.latencyMs, answer.clientMs);
      setState({ loading: false, prediction, latency: answer.latencyMs, clientMs: answer.clientMs, text: value });
    } catch (error) {
      if (error?.name === "AbortError") return;
      setState({ loading: false, error });
    }
  }

  function onSubmit(event) {
    event.preventDefault();
    analyse();
  }

  function onKeyDown(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      analyse();
    }
  }

  function tryExample(example) {
    setText(example);
    analyse(example);
  }

  const p = state.prediction;
  const best = p?.scores.find((s) => s.label === p.label);

  return (
    <div className="sentiment">
      <form className="card" onSubmit={onSubmit}>
        <h2 className="card-title">How does this text feel?</h2>
        <label htmlFor="sentiment-text" className="field-label">
          Text to read
        </label>
        <textarea
          id="sentiment-text"
          rows={5}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby="sentiment-count sentiment-help"
          aria-invalid={tooLong}
          placeholder="Type or paste a sentence, a review or a tweet…"
        />
        <div className="form-foot">
          <span id="sentiment-help" className="hint">Ctrl+Enter to analyse. Trained on English tweets.</span>
          <span id="sentiment-count" className={tooLong ? "count count-over" : "count"}>
            {formatCount(count)} / {formatCount(MAX_CHARS)} characters{tooLong ? ` — ${formatCount(count - MAX_CHARS)} too many` : ""}
          </span>
        </div>
        <div className="toolbar">
          <button type="submit" className="button button-primary" disabled={empty || tooLong || state.loading}>
            {state.loading ? "Analysing…" : "Analyse"}
          </button>
          <button type="button" className="button" onClick={() => { setText(""); setState({}); }} disabled={!text && !p}>
            Clear
          </button>
        </div>
        <fieldset className="examples">
          <legend>Examples</legend>
          {EXAMPLES.map((e) => (
            <button key={e} type="button" className="chip" onClick={() => tryExample(e)}>
              {e}
            </button>
          ))}
        </fieldset>
      </form>

      <section className="card result-card" aria-labelledby="sentiment-result-title" data-testid="result-sentiment">
        <header className="result-head">
          <h2 id="sentiment-result-title" className="card-title">Result</h2>
          <code className="model-name">{model.name}</code>
        </header>
        <div role="status" aria-live="polite" aria-atomic="true">
          {p ? (
            <p className="big-label">
              <span className={`sentiment-label sentiment-${p.label}`} data-testid="label-sentiment">{p.label}</span>
              <span className="confidence">{formatPercent(best?.probability)}<span className="visually-hidden"> confidence</span></span>
            </p>
          ) : !state.error ? (
            <p className="placeholder">{state.loading ? "Reading…" : "Type some text and press Analyse."}</p>
          ) : null}
        </div>
        {state.error && <Alert error={state.error} title={`${model.name} could not answer`} onRetry={() => analyse()} />}
        {p && (
          <>
            <ProbabilityChart
              scores={p.scores}
              orientation="horizontal"
              colours={COLOURS}
              caption={`Sentiment probabilities: ${describeScores(p.scores, formatPercent)}.`}
            />
            <p className="latency">
              model {formatMs(state.latency?.model)} · gateway {formatMs(state.latency?.total)} · round trip {formatMs(state.clientMs)}
            </p>
          </>
        )}
      </section>
    </div>
  );
}
