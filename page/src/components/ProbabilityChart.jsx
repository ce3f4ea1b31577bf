/**
 * A bar chart of class probabilities as hand-written SVG: vertical bars (digits) or horizontal bars
 * (few classes with long names). The top class is highlighted; the SVG is hidden from screen readers
 * and a text equivalent (a visually hidden list) carries the same numbers.
 */
import { formatPercent } from "../lib/format.js";
import { topScore } from "../lib/predictions.js";

export default function ProbabilityChart({ scores, orientation = "vertical", colours = {}, caption }) {
  if (!scores?.length) return null;
  const best = topScore(scores);
  return (
    <figure className="chart">
      {orientation === "vertical" ? <Columns scores={scores} best={best} /> : <Rows scores={scores} best={best} colours={colours} />}
      <figcaption className="visually-hidden">
        {caption}
        <ul>
          {scores.map((s) => (
            <li key={s.label}>{`${s.label}: ${formatPercent(s.probability)}`}</li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

function Columns({ scores, best }) {
  const width = 300, height = 150, top = 18, bottom = 20;
  const slot = width / scores.length;
  const bar = slot * 0.62;
  const plot = height - top - bottom;
  return (
    <svg viewBox={`0 0 ${width} ${height}`} className="chart-svg" aria-hidden="true" focusable="false">
      <line x1="0" x2={width} y1={top + plot} y2={top + plot} className="chart-axis" />
      {scores.map((s, i) => {
        const h = Math.max(0, Math.min(1, s.probability)) * plot;
        const x = i * slot + (slot - bar) / 2;
        const isBest = s === best;
        return (
          <g key={s.label}>
            <rect x={x} y={top + plot - h} width={bar} height={Math.max(h, 0.5)} rx="2" className={isBest ? "bar bar-best" : "bar"} />
            {s.probability >= 0.005 && (
              <text x={x + bar / 2} y={top + plot - h - 4} textAnchor="middle" className="chart-value">
                {Math.round(s.probability * 100)}
              </text>
            )}
            <text x={x + bar / 2} y={height - 5} textAnchor="middle" className={isBest ? "chart-label chart-label-best" : "chart-label"}>
              {s.label}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function Rows({ scores, best, colours }) {
  return (
    <div className="rows" aria-hidden="true">
      {scores.map((s) => (
        <div className="row" key={s.label}>
          <span className={s === best ? "row-label row-label-best" : "row-label"}>{s.label}</span>
          <svg viewBox="0 0 100 10" preserveAspectRatio="none" className="row-bar" focusable="false">
            <rect x="0" y="0" width="100" height="10" rx="2" className="row-track" />
            <rect x="0" y="0" width={Math.max(0, Math.min(1, s.probability)) * 100} height="10" rx="2" style={colours[s.label] ? { fill: colours[s.label] } : undefined} className="row-fill" />
          </svg>
          <span className="row-value">{formatPercent(s.probability)}</span>
        </div>
      ))}
    </div>
  );
}
