/**
 * Accessible tabs (WAI-ARIA tabs pattern): a tablist with roving focus (←/→, Home, End), each tab
 * controlling a panel. Every panel stays mounted (hidden when not selected) so a tab keeps its state.
 */
import { useRef } from "react";

export default function Tabs({ tabs, selected, onSelect, label }) {
  const refs = useRef({});
  const ids = tabs.map((t) => t.id);

  function onKeyDown(event) {
    const i = ids.indexOf(selected);
    let next = null;
    if (event.key === "ArrowRight") next = ids[(i + 1) % ids.length];
    else if (event.key === "ArrowLeft") next = ids[(i - 1 + ids.length) % ids.length];
    else if (event.key === "Home") next = ids[0];
    else if (event.key === "End") next = ids[ids.length - 1];
    if (next) {
      event.preventDefault();
      onSelect(next);
      refs.current[next]?.focus();
    }
  }

  return (
    <>
      <div role="tablist" aria-label={label} className="tablist" onKeyDown={onKeyDown}>
        {tabs.map((t) => (
          <button
            key={t.id}
            ref={(el) => { refs.current[t.id] = el; }}
            role="tab"
            type="button"
            id={`tab-${t.id}`}
            aria-selected={selected === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={selected === t.id ? 0 : -1}
            className="tab"
            onClick={() => onSelect(t.id)}
          >
            {t.title}
          </button>
        ))}
      </div>
      {tabs.map((t) => (
        <section
          key={t.id}
          role="tabpanel"
          id={`panel-${t.id}`}
          aria-labelledby={`tab-${t.id}`}
          hidden={selected !== t.id}
          tabIndex={0}
          className="panel"
        >
          {t.content}
        </section>
      ))}
    </>
  );
}
