import assert from "node:assert/strict";
import { test } from "node:test";

import { htmlDocument, htmlHeight, outputView, richestMime } from "../js/outputs.js";

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

test("a matplotlib figure shows as an image, not as its text", () => {
  const view = outputView({ output_type: "display_data", metadata: {},
    data: { "image/png": `${PNG.slice(0, 40)}\n${PNG.slice(40)}\n`, "text/plain": "<Figure size 640x480 with 1 Axes>" } });
  assert.equal(view.kind, "image");
  assert.equal(view.src, `data:image/png;base64,${PNG}`, "line breaks in the base64 are dropped");
  assert.equal(view.alt, "<Figure size 640x480 with 1 Axes>");
});

test("HTML wins over plain text, and goes into a frame that fetches nothing", () => {
  const view = outputView({ output_type: "execute_result", execution_count: 1, metadata: {},
    data: { "text/html": ["<table>", "<tr><td>1</td></tr>", "</table>"], "text/plain": "   a\n0  1" } });
  assert.equal(view.kind, "html");
  assert.equal(view.html, "<table><tr><td>1</td></tr></table>");
  const doc = htmlDocument(view.html);
  assert.match(doc, /Content-Security-Policy" content="default-src 'none'; img-src data:/);
  assert.ok(doc.endsWith(view.html));
  assert.ok(htmlHeight(view.html) >= 48 && htmlHeight("<tr>".repeat(1000)) === 420);
});

test("the richest MIME type is chosen in JupyterLab's order", () => {
  assert.equal(richestMime({ "text/plain": "x", "image/png": PNG, "text/html": "<b>x</b>" }), "text/html");
  assert.equal(richestMime({ "text/plain": "x", "image/png": PNG }), "image/png");
  assert.equal(richestMime({ "text/plain": "x", "image/svg+xml": "<svg/>", "image/png": PNG }), "image/svg+xml");
  assert.equal(richestMime({ "text/plain": "x", "application/json": { a: 1 } }), "application/json");
  assert.equal(richestMime({ "text/plain": "x" }), "text/plain");
  assert.equal(richestMime({ "application/vnd.custom": "x" }), null);
  assert.equal(richestMime({ "image/png": "not base64 <script>", "text/plain": "p" }), "text/plain",
    "an image that is not base64 is not put in a data URL");
});

test("plain text, JSON, SVG and unknown types", () => {
  assert.deepEqual(outputView({ output_type: "execute_result", data: { "text/plain": ["4", "2"] } }),
    { kind: "text", text: "42" });
  assert.equal(outputView({ output_type: "display_data", data: { "application/json": { a: [1] } } }).text,
    '{\n  "a": [\n    1\n  ]\n}');
  const svg = outputView({ output_type: "display_data", data: { "image/svg+xml": "<svg a='1'/>" } });
  assert.equal(svg.src, "data:image/svg+xml;charset=utf-8,%3Csvg%20a%3D'1'%2F%3E");
  assert.equal(outputView({ output_type: "display_data", data: { "x/y": 1 } }).kind, "unknown");
  assert.equal(outputView({ output_type: "update_display_data" }).kind, "unknown");
});

test("streams and errors keep their text (and ANSI escapes) for the ANSI renderer", () => {
  assert.deepEqual(outputView({ output_type: "stream", name: "stderr", text: ["a\n", "b"] }),
    { kind: "stream", name: "stderr", text: "a\nb" });
  const error = outputView({ output_type: "error", ename: "ZeroDivisionError", evalue: "division by zero",
    traceback: ["\x1b[0;31m---\x1b[0m", "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"] });
  assert.equal(error.kind, "error");
  assert.equal(error.text, "\x1b[0;31m---\x1b[0m\n\x1b[0;31mZeroDivisionError\x1b[0m: division by zero");
  assert.equal(outputView({ output_type: "error", ename: "E", evalue: "v", traceback: [] }).text, "E: v");
});
