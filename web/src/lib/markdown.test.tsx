import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import { ChatMarkdown, LINK_REL, safeUrl } from "./markdown";

const html = (text: string, names: string[] = [], myName = "") =>
  renderToStaticMarkup(<ChatMarkdown text={text} names={names} myName={myName} />);

describe("chat markdown", () => {
  it("renders the subset as elements", () => {
    expect(html("**bold** and *italic* and `code`")).toContain("<strong>bold</strong>");
    expect(html("**bold** and *italic* and `code`")).toContain("<em>italic</em>");
    expect(html("**bold** and *italic* and `code`")).toMatch(/<code[^>]*>code<\/code>/);
    expect(html("```\nlet x = 1;\n```")).toMatch(/<pre[^>]*><code[^>]*>let x = 1;\n<\/code><\/pre>/);
    expect(html("> quoted")).toMatch(/<blockquote[^>]*>\s*<p[^>]*>quoted<\/p>/);
    expect(html("~~gone~~")).toContain("<del>gone</del>");
  });

  it("keeps raw HTML as text", () => {
    const out = html('<img src=x onerror=alert(1)> and <b>bold</b> <script>alert(1)</script>');
    expect(out).not.toMatch(/<img|<b>|<script/);
    expect(out).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(out).toContain("&lt;b&gt;bold&lt;/b&gt;");
  });

  it("leaves constructs chat does not use as literal text", () => {
    expect(html("# 1 fan")).toContain("# 1 fan");
    expect(html("1. first\n2. second")).toContain("1. first\n2. second");
    expect(html("- a")).toContain("- a");
    expect(html("---")).toContain("---");
    expect(html("    indented")).not.toContain("<pre");
    expect(html("![cat](https://x.test/cat.png)")).not.toContain("<img");
  });

  it("links bare addresses, never hides them behind a label, and drops unsafe schemes", () => {
    const out = html("see https://example.com/a_b?x=1 and www.example.org");
    expect(out).toContain(`<a href="https://example.com/a_b?x=1" target="_blank" rel="${LINK_REL}"`);
    expect(out).toContain('href="http://www.example.org"');
    const masked = html("[click](https://evil.test)");
    expect(masked).toContain("[click](");
    expect(masked).toContain('href="https://evil.test"');
    expect(html("<javascript:alert(1)>")).not.toContain("href");
    expect(safeUrl("javascript:alert(1)")).toBe("");
    expect(safeUrl("data:text/html,x")).toBe("");
    expect(safeUrl("mailto:a@b.test")).toBe("mailto:a@b.test");
  });

  it("marks mentions outside code, the reader's own name differently", () => {
    const out = html("hi @Ann Lee and @Bob, `@Ann Lee` stays code", ["Ann Lee", "Bob"], "Bob");
    expect(out).toMatch(/<mark class="[^"]*bg-indigo-100[^"]*">@Ann Lee<\/mark>/);
    expect(out).toMatch(/<mark class="[^"]*bg-amber-200[^"]*">@Bob<\/mark>/);
    expect(out).toMatch(/<code[^>]*>@Ann Lee<\/code>/);
  });

  it("plain text takes the fast path with the same output shape", () => {
    expect(html("just words")).toBe('<p class="whitespace-pre-wrap">just words</p>');
    expect(html("two\nlines")).toContain("two\nlines");
  });
});
