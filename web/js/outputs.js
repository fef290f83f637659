// What a notebook output shows as (no DOM here; web/tests/outputs.test.js runs it under Node).
// An execute_result or display_data carries one representation per MIME type; the richest one
// that the page can show safely wins. Notebook HTML is untrusted: the view puts it in an
// <iframe sandbox=""> (no scripts, no same origin) whose document forbids every fetch.

import { joinText } from "./nbformat.js";

/** Richest first, as JupyterLab ranks them, with the types the page only shows as text last. */
export const MIME_ORDER = Object.freeze([
  "text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg", "image/gif",
  "image/webp", "text/latex", "application/json", "text/plain",
]);
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** The MIME type of ``data`` to show, or null when it has none the page knows. */
export function richestMime(data) {
  if (!data || typeof data !== "object") return null;
  return MIME_ORDER.find((mime) => mime in data && usable(mime, data[mime])) ?? null;
}

function usable(mime, value) {
  if (mime === "application/json") return value !== undefined;
  const text = joinText(value);
  if (["image/png", "image/jpeg", "image/gif", "image/webp"].includes(mime)) {
    return text.length > 0 && BASE64.test(text);
  }
  return typeof value === "string" || Array.isArray(value);
}

/**
 * How one nbformat output is drawn:
 *   {kind: "stream", name: "stdout"|"stderr", text}     text with ANSI escapes
 *   {kind: "error", ename, evalue, text}                  the traceback, ANSI escapes kept
 *   {kind: "image", mime, src, alt}                       an <img> of a data: URL
 *   {kind: "html", html}                                  a sandboxed <iframe srcdoc>
 *   {kind: "markdown", text}                              markdown (markdown.js)
 *   {kind: "text", text}                                  plain text (also LaTeX and JSON)
 *   {kind: "unknown", text}                               a note that it cannot be shown
 */
export function outputView(output) {
  const type = output?.output_type;
  if (type === "stream") {
    return { kind: "stream", name: output.name === "stderr" ? "stderr" : "stdout", text: joinText(output.text) };
  }
  if (type === "error") {
    const traceback = Array.isArray(output.traceback) ? output.traceback.map(joinText) : [];
    const text = traceback.length ? traceback.join("\n") : `${output.ename ?? "Error"}: ${output.evalue ?? ""}`;
    return { kind: "error", ename: String(output.ename ?? ""), evalue: String(output.evalue ?? ""), text };
  }
  if (type === "execute_result" || type === "display_data") return mimeView(output.data ?? {});
  return { kind: "unknown", text: `(an output of type ${String(type)} that the IDE does not show)` };
}

function mimeView(data) {
  const mime = richestMime(data);
  const plain = joinText(data["text/plain"]);
  switch (mime) {
    case null:
      return { kind: "unknown", text: `(an output of type ${Object.keys(data).join(", ") || "nothing"} that the IDE does not show)` };
    case "text/html":
      return { kind: "html", html: joinText(data[mime]), alt: plain };
    case "text/markdown":
      return { kind: "markdown", text: joinText(data[mime]) };
    case "image/svg+xml":
      return { kind: "image", mime, alt: plain || "an image",
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(joinText(data[mime]))}` };
    case "application/json":
      return { kind: "text", text: JSON.stringify(data[mime], null, 2) };
    case "text/latex":
    case "text/plain":
      return { kind: "text", text: joinText(data[mime]) };
    default: // a base64 bitmap
      return { kind: "image", mime, alt: plain || "an image",
        src: `data:${mime};base64,${joinText(data[mime]).replace(/\s+/g, "")}` };
  }
}

// The first thing in the frame's document: whatever the notebook's HTML says, it cannot fetch
// anything (no tracking pixels, no scripts even if the sandbox were loosened) but data: images.
const HTML_HEAD = "<!doctype html><meta charset=\"utf-8\">"
  + "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
  + "img-src data:; style-src 'unsafe-inline'; font-src data:\">"
  + "<style>html{color-scheme:light dark}body{margin:4px;font:13px/1.4 system-ui,sans-serif}"
  + "table{border-collapse:collapse}th,td{border:1px solid #8884;padding:2px 6px;text-align:right}"
  + "</style>";

/** The srcdoc of the frame that shows ``html``. */
export function htmlDocument(html) {
  return HTML_HEAD + html;
}

/** A first height for the frame, in pixels: a sandboxed frame cannot be measured from outside,
 * so this guesses from the rows and blocks of the HTML (the frame can be resized by the user). */
export function htmlHeight(html) {
  const blocks = (html.match(/<(tr|p|div|li|h[1-6]|br|pre|img)\b/gi) ?? []).length;
  const lines = (html.match(/\n/g) ?? []).length;
  const guess = 24 + 22 * Math.max(1, blocks, Math.min(lines, 10));
  return Math.min(420, Math.max(48, guess));
}
