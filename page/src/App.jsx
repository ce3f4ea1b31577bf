/** The page: a header with the API's state, and the four tabs (Digits, Sentiment, Chat, Models). */
import { useCallback, useEffect, useState } from "react";
import Tabs from "./components/Tabs.jsx";
import ChatTab from "./tabs/ChatTab.jsx";
import DigitsTab from "./tabs/DigitsTab.jsx";
import ModelsTab from "./tabs/ModelsTab.jsx";
import SentimentTab from "./tabs/SentimentTab.jsx";
import { requestJson } from "./lib/api.js";
import { loadConfig } from "./lib/config.js";

const TAB_IDS = ["digits", "sentiment", "chat", "models"];

function initialTab() {
  const hash = typeof location !== "undefined" ? location.hash.replace("#", "") : "";
  return TAB_IDS.includes(hash) ? hash : "digits";
}

export default function App() {
  const [tab, setTab] = useState(initialTab);
  const [models, setModels] = useState([]);
  const [health, setHealth] = useState(null);
  const [apiState, setApiState] = useState({ loading: true, error: null });
  const [apiBase, setApiBase] = useState("");
  const [latencies, setLatencies] = useState({});

  const refresh = useCallback(async () => {
    setApiState((s) => ({ ...s, loading: true }));
    const [h, m] = await Promise.allSettled([requestJson("/health"), requestJson("/models")]);
    if (h.status === "fulfilled") setHealth(h.value);
    if (m.status === "fulfilled") setModels(m.value.models || []);
    const error = m.status === "rejected" ? m.reason : h.status === "rejected" ? h.reason : null;
    setApiState({ loading: false, error });
  }, []);

  useEffect(() => {
    loadConfig().then((c) => setApiBase(c.apiBase));
    refresh();
  }, [refresh]);

  const select = useCallback((id) => {
    setTab(id);
    if (typeof history !== "undefined") history.replaceState(null, "", `#${id}`);
  }, []);

  const onLatency = useCallback((model, latencyMs, clientMs) => {
    setLatencies((old) => ({ ...old, [model]: { model: latencyMs?.model, total: latencyMs?.total, client: clientMs } }));
  }, []);

  const tabs = [
    { id: "digits", title: "Digits", content: <DigitsTab models={models} onLatency={onLatency} /> },
    { id: "sentiment", title: "Sentiment", content: <SentimentTab models={models} onLatency={onLatency} /> },
    { id: "chat", title: "Chat", content: <ChatTab chatInfo={health?.chat} onLatency={onLatency} /> },
    {
      id: "models",
      title: "Models",
      content: <ModelsTab models={models} health={health} error={apiState.error} loading={apiState.loading} latencies={latencies} onRefresh={refresh} />,
    },
  ];

  const apiLabel = apiState.error
    ? "API unreachable"
    : health
      ? `API ${health.status === "ok" ? "online" : health.status} · ${health.mode || ""}`
      : "Connecting…";

  return (
    <div className="app">
      <a className="skip-link" href={`#panel-${tab}`}>Skip to content</a>
      <header className="site-header">
        <div>
          <h1 className="brand">modelport</h1>
          <p className="tagline">Models served with SageMaker's contract — try them here.</p>
        </div>
        <p className={`api-state ${apiState.error ? "api-down" : health ? "api-up" : ""}`} role="status" title={apiBase || "same origin"}>
          <span className="dot" aria-hidden="true" />
          {apiLabel}
        </p>
      </header>
      <main>
        <Tabs tabs={tabs} selected={tab} onSelect={select} label="Demos" />
      </main>
      <footer className="site-footer">
        <p>
          Talking to <code>{apiBase || (typeof location !== "undefined" ? location.origin : "")}</code> · API docs at{" "}
          <a href={`${apiBase}/docs`}>/docs</a>
        </p>
      </footer>
    </div>
  );
}
