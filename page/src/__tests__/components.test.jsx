// Components rendered to HTML on the server side (no browser needed): what a screen reader gets.
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import ProbabilityChart from "../components/ProbabilityChart.jsx";
import Tabs from "../components/Tabs.jsx";
import Alert from "../components/Alert.jsx";
import ModelsTab from "../tabs/ModelsTab.jsx";

const digits = Array.from({ length: 10 }, (_, i) => ({ label: String(i), probability: i === 7 ? 0.91 : 0.01 }));

describe("ProbabilityChart", () => {
  it("draws ten bars, highlights the top class and gives a text equivalent", () => {
    const html = renderToStaticMarkup(<ProbabilityChart scores={digits} caption="Probabilities." />);
    expect(html.match(/<rect[^>]*class="bar( bar-best)?"/g)).toHaveLength(10);
    expect(html.match(/bar-best/g)).toHaveLength(1);
    expect(html).toContain('aria-hidden="true"');
    expect(html).toContain("<li>7: 91.0%</li>");
    expect(html).toContain("<li>0: 1.0%</li>");
  });

  it("draws horizontal rows for a few named classes", () => {
    const scores = [{ label: "negative", probability: 0.1 }, { label: "neutral", probability: 0.2 }, { label: "positive", probability: 0.7 }];
    const html = renderToStaticMarkup(<ProbabilityChart scores={scores} orientation="horizontal" colours={{ positive: "#1e8e4e" }} />);
    expect(html.match(/class="row"/g)).toHaveLength(3);
    expect(html).toContain('width="70"');
    expect(html).toContain("fill:#1e8e4e");
  });

  it("renders nothing without scores", () => {
    expect(renderToStaticMarkup(<ProbabilityChart scores={[]} />)).toBe("");
  });
});

describe("Tabs", () => {
  it("marks one tab selected, links tabs and panels, and hides the other panels", () => {
    const tabs = [{ id: "a", title: "A", content: <p>first</p> }, { id: "b", title: "B", content: <p>second</p> }];
    const html = renderToStaticMarkup(<Tabs tabs={tabs} selected="b" onSelect={() => {}} label="Demos" />);
    expect(html).toContain('role="tablist" aria-label="Demos"');
    expect(html).toMatch(/id="tab-b" aria-selected="true" aria-controls="panel-b" tabindex="0"/);
    expect(html).toMatch(/id="tab-a" aria-selected="false" aria-controls="panel-a" tabindex="-1"/);
    expect(html).toMatch(/id="panel-a" aria-labelledby="tab-a" hidden=""/);
    expect(html).not.toMatch(/id="panel-b"[^>]*hidden/);
  });
});

describe("Alert", () => {
  it("is an alert with the message, status, code and request id", () => {
    const html = renderToStaticMarkup(
      <Alert error={{ message: "model 'sentiment' is not configured", status: 503, code: "model_not_configured", requestId: "abc" }} title="Unavailable" />,
    );
    expect(html).toContain('role="alert"');
    expect(html).toContain("model &#x27;sentiment&#x27; is not configured");
    expect(html).toContain("HTTP 503 · model_not_configured · request abc");
  });
});

describe("ModelsTab", () => {
  const models = [
    { name: "mnist-sklearn", kind: "image-classifier", endpoint: "mnist-sklearn", configured: true, status: "InService",
      variants: [{ name: "AllTraffic", instances: 1, weight: 1.0 }] },
    { name: "chat", kind: "chat", endpoint: "chat", configured: true, provider: "sagemaker", model: "chat", status: "InService",
      variants: [{ name: "AllTraffic", instances: 1, weight: 1.0 }] },
  ];

  it("lists the chat endpoint with its provider, status, instances and last latency", () => {
    const html = renderToStaticMarkup(
      <ModelsTab models={models} health={null} error={null} loading={false} latencies={{ chat: { model: 420, client: 480 } }} onRefresh={() => {}} />,
    );
    const row = html.slice(html.indexOf('data-testid="model-row-chat"'));
    expect(row).toContain("<code>chat</code>");
    expect(row).toContain("chat via sagemaker");
    expect(row).toContain("InService");
    expect(row).toContain("AllTraffic · 1 instance");
    expect(row).toMatch(/420 ms model · 480 ms round trip/);
  });

  it("shows a chat answered outside SageMaker by its model, and a switched-off chat as not configured", () => {
    const others = [
      { name: "chat", kind: "chat", endpoint: null, configured: true, provider: "openai", model: "llama3", status: "External", reason: "answered by openai (http://127.0.0.1:11434/v1)" },
    ];
    const external = renderToStaticMarkup(<ModelsTab models={others} health={null} error={null} loading={false} latencies={{}} onRefresh={() => {}} />);
    expect(external).toContain("chat via openai");
    expect(external).toContain("<code>llama3</code>");
    expect(external).toContain("External");
    expect(external).toContain("answered by openai");
    const off = [{ name: "chat", kind: "chat", endpoint: null, configured: false, provider: null, status: "NotConfigured", reason: "chat is switched off" }];
    const html = renderToStaticMarkup(<ModelsTab models={off} health={null} error={null} loading={false} latencies={{}} onRefresh={() => {}} />);
    expect(html).toContain("NotConfigured");
    expect(html).toContain("chat is switched off");
    expect(html).not.toContain(" via ");
  });
});
