/**
 * Where the API lives, read at run time from config.json beside index.html ({"apiBase": "https://..."}),
 * so one build serves the local gateway (same origin: apiBase "") and an S3 website pointing at API
 * Gateway. A missing or broken config.json means same origin.
 */

let loaded = null;

/** Normalise an API base: no trailing slash; "" means the page's own origin. */
export function normaliseBase(value) {
  if (typeof value !== "string") return "";
  return value.trim().replace(/\/+$/, "");
}

/** Load config.json once; resolves to {apiBase, source}. Never rejects. */
export function loadConfig(fetchImpl = globalThis.fetch) {
  if (!loaded) {
    loaded = fetchImpl("config.json", { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : {}))
      .then((data) => ({ apiBase: normaliseBase(data?.apiBase), source: "config.json" }))
      .catch(() => ({ apiBase: "", source: "default (same origin)" }));
  }
  return loaded;
}

/** Forget the loaded configuration (tests). */
export function resetConfig() {
  loaded = null;
}
