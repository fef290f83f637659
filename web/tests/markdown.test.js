import assert from "node:assert/strict";
import { test } from "node:test";

import { parseInline, parseMarkdown } from "../js/markdown.js";

test("headings, paragraphs, lists, code, quotes and rules", () => {
  const blocks = parseMarkdown("# Title\n\nOne\nparagraph.\n\n- a\n- b\n  more\n\n1. first\n\n```py\nx = 1\n\ny\n```\n> said\n---");
  assert.deepEqual(blocks.map((b) => b.type), ["heading", "paragraph", "list", "list", "code", "quote", "rule"]);
  assert.equal(blocks[0].level, 1);
  assert.deepEqual(blocks[1].inlines, [{ type: "text", text: "One paragraph." }]);
  assert.equal(blocks[2].ordered, false);
  assert.deepEqual(blocks[2].items, [[{ type: "text", text: "a" }], [{ type: "text", text: "b more" }]]);
  assert.equal(blocks[3].ordered, true);
  assert.equal(blocks[4].text, "x = 1\n\ny");
});

test("inline code, strong, emphasis and safe links only", () => {
  assert.deepEqual(parseInline("a `x*y` **b** *c* [d](https://e.org) [f](javascript:alert(1))"), [
    { type: "text", text: "a " }, { type: "code", text: "x*y" }, { type: "text", text: " " },
    { type: "strong", text: "b" }, { type: "text", text: " " }, { type: "em", text: "c" },
    { type: "text", text: " " }, { type: "link", text: "d", href: "https://e.org" },
    { type: "text", text: " [f](javascript:alert(1))" },
  ]);
  assert.deepEqual(parseInline("snake_case_name"), [{ type: "text", text: "snake_case_name" }]);
});

test("HTML in markdown stays text", () => {
  assert.deepEqual(parseMarkdown("<img src=x onerror=alert(1)>"),
    [{ type: "paragraph", inlines: [{ type: "text", text: "<img src=x onerror=alert(1)>" }] }]);
});
