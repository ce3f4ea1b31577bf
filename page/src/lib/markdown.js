/**
 * Chat replies as sanitized HTML: markdown rendered by `marked`, then cleaned by DOMPurify so a reply can
 * never run script or load content (no raw HTML survives beyond the safe formatting tags). Links open in
 * a new tab without an opener.
 */

import DOMPurify from "dompurify";
import { marked } from "marked";

const ALLOWED_TAGS = [
  "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
  "h1", "h2", "h3", "h4", "h5", "h6", "a", "hr", "table", "thead", "tbody", "tr", "th", "td",
];
const ALLOWED_ATTR = ["href", "title", "align", "start"];

let hooked = false;

function purifier(win) {
  const purify = win ? DOMPurify(win) : DOMPurify;
  if (!hooked || win) {
    purify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
    if (!win) hooked = true;
  }
  return purify;
}

/** Render markdown to sanitized HTML. `win` is a window for DOMPurify outside the browser (tests). */
export function renderMarkdown(text, win) {
  const html = marked.parse(text || "", { async: false, gfm: true, breaks: true });
  return purifier(win).sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
    ADD_ATTR: ["target", "rel"],
  });
}
