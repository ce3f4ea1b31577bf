// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../lib/markdown.js";

describe("renderMarkdown", () => {
  it("renders the usual markdown", () => {
    const html = renderMarkdown("**bold** and `code`\n\n- one\n- two\n\n```\nx = 1\n```");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).toContain("<li>one</li>");
    expect(html).toContain("<pre><code>x = 1");
  });

  it("removes scripts, event handlers, iframes, images and javascript: links", () => {
    const html = renderMarkdown(
      'hi <script>alert(1)</script><img src=x onerror="alert(2)"><iframe src="https://evil"></iframe> [x](javascript:alert(3)) <a href="https://ok.example" onclick="alert(4)">ok</a>',
    );
    expect(html).not.toMatch(/script|onerror|onclick|iframe|<img|javascript:/i);
    expect(html).toContain('href="https://ok.example"');
  });

  it("opens links in a new tab without an opener", () => {
    const html = renderMarkdown("[docs](https://example.com/docs)");
    expect(html).toContain('target="_blank"');
    expect(html).toContain('rel="noopener noreferrer nofollow"');
  });
});
