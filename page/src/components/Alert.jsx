/** An error message in the page (role="alert"), with the API's error code and an optional retry button. */
export default function Alert({ error, onRetry, title = "Something went wrong" }) {
  if (!error) return null;
  const code = error.code && error.code !== "network_error" ? error.code : null;
  return (
    <div role="alert" className="alert">
      <strong className="alert-title">{title}</strong>
      <p className="alert-message">{error.message || String(error)}</p>
      {(code || error.status) ? (
        <p className="alert-detail">
          {error.status ? `HTTP ${error.status}` : ""}
          {code ? ` · ${code}` : ""}
          {error.requestId ? ` · request ${error.requestId}` : ""}
        </p>
      ) : null}
      {onRetry && (
        <button type="button" className="button button-small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
