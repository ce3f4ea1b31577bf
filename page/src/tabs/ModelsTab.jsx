/**
 * Models: what is deployed behind the page — each route's endpoint, live status, variants and instance
 * counts (from GET /models, chat included: its provider, and its endpoint or model), plus the latency
 * this page last measured for it.
 */
import Alert from "../components/Alert.jsx";
import { formatMs } from "../lib/format.js";

const KIND_NAMES = { "image-classifier": "digits", "text-classifier": "text", chat: "chat", custom: "custom" };

export default function ModelsTab({ models, health, error, loading, latencies, onRefresh }) {
  return (
    <div className="card models">
      <header className="result-head">
        <h2 className="card-title">Deployed models</h2>
        <button type="button" className="button button-small" onClick={onRefresh} disabled={loading}>
          {loading ? "Refreshing…" : "Refresh"}
        </button>
      </header>
      {health && (
        <p className="hint">
          Gateway {health.version ? `v${health.version}` : ""} · mode {health.mode || "unknown"} · chat{" "}
          {health.chat?.configured ? `via ${health.chat.provider}` : "not configured"}
          {health.status && health.status !== "ok" ? ` · status ${health.status}` : ""}
        </p>
      )}
      {health?.configErrors?.length ? (
        <Alert error={{ message: health.configErrors.join("; ") }} title="Gateway configuration problems" />
      ) : null}
      {error && <Alert error={error} title="Could not list the models" onRetry={onRefresh} />}
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Deployed models table">
        <table>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Kind</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Status</th>
              <th scope="col">Variants · instances</th>
              <th scope="col">Last latency</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.name} data-testid={`model-row-${m.name}`}>
                <th scope="row"><code>{m.name}</code></th>
                <td>{kindLabel(m)}</td>
                <td>
                  {m.endpoint ? <code>{m.endpoint}</code> : m.model ? <span><code>{m.model}</code> <span className="muted small">model</span></span> : <span className="muted">none</span>}
                </td>
                <td>
                  <span className={`badge badge-${statusTone(m.status)}`}>{m.status || "unknown"}</span>
                  {m.reason || m.failureReason ? <span className="muted small block">{m.failureReason || m.reason}</span> : null}
                </td>
                <td>
                  {m.variants?.length
                    ? m.variants.map((v) => (
                        <span key={v.name} className="block">
                          {v.name} · {v.instances ?? "?"} instance{v.instances === 1 ? "" : "s"}
                          {typeof v.weight === "number" ? ` · weight ${v.weight}` : ""}
                        </span>
                      ))
                    : <span className="muted">–</span>}
                </td>
                <td>
                  {latencies[m.name]
                    ? `${formatMs(latencies[m.name].model)} model · ${formatMs(latencies[m.name].client)} round trip`
                    : <span className="muted">not called yet</span>}
                </td>
              </tr>
            ))}
            {!models.length && !error && (
              <tr>
                <td colSpan={6} className="muted">{loading ? "Loading…" : "No models are listed by the gateway."}</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** "digits", "text", "chat via sagemaker", …: the kind, and for chat the provider that answers it. */
export function kindLabel(model) {
  const kind = KIND_NAMES[model.kind] || model.kind;
  return model.provider ? `${kind} via ${model.provider}` : kind;
}

function statusTone(status) {
  if (status === "InService") return "ok";
  if (status === "Creating" || status === "Updating" || status === "RollingBack") return "busy";
  if (status === "Failed" || status === "NotFound") return "bad";
  return "neutral";
}
