import assert from "node:assert/strict";
import { test } from "node:test";

import { AnsiParser, applySgr, color256, cssOf } from "../js/ansi.js";

const plain = (segments) => segments.map((s) => s.text).join("");

test("plain text passes through as one unstyled segment", () => {
  const segments = new AnsiParser().feed("hello\nworld\n");
  assert.deepEqual(segments, [{ text: "hello\nworld\n", style: {} }]);
});

test("SGR colours start and reset segments", () => {
  const segments = new AnsiParser().feed("a\x1b[31mred\x1b[0mb");
  assert.deepEqual(segments.map((s) => [s.text, s.style]), [
    ["a", {}], ["red", { fg: 1 }], ["b", {}],
  ]);
});

test("bright, background, bold and underline combine", () => {
  const [segment] = new AnsiParser().feed("\x1b[1;4;92;44mx");
  assert.deepEqual(segment.style, { bold: true, underline: true, fg: 10, bg: 4 });
  assert.deepEqual(cssOf(segment.style).classes.sort(),
    ["ansi-bg-4", "ansi-bold", "ansi-fg-10", "ansi-underline"]);
});

test("256-colour and true-colour come out as CSS colours", () => {
  assert.deepEqual(applySgr({}, "38;5;196"), { fg: 196 });
  assert.deepEqual(applySgr({}, "48;2;10;20;255"), { bg: "#0a14ff" });
  assert.deepEqual(applySgr({}, "38:2:1:2:3"), { fg: "#010203" });
  assert.equal(color256(196), "#ff0000");
  assert.equal(color256(232), "#080808");
  assert.equal(color256(21), "#0000ff");
  assert.deepEqual(cssOf({ fg: 196 }), { classes: [], css: { color: "#ff0000" } });
});

test("an empty SGR resets, 22/39/49 undo only their part", () => {
  let style = applySgr({}, "1;31;42");
  style = applySgr(style, "39");
  assert.deepEqual(style, { bold: true, bg: 2 });
  style = applySgr(style, "22;49");
  assert.deepEqual(style, {});
  assert.deepEqual(applySgr({ fg: 3 }, ""), {});
});

test("a sequence split across chunks is held until it completes", () => {
  const parser = new AnsiParser();
  assert.deepEqual(plain(parser.feed("one\x1b[3")), "one");
  const segments = parser.feed("2mgreen");
  assert.deepEqual(segments, [{ text: "green", style: { fg: 2 } }]);
});

test("colour state carries over to the next chunk", () => {
  const parser = new AnsiParser();
  parser.feed("\x1b[35m");
  assert.deepEqual(parser.feed("still magenta"), [{ text: "still magenta", style: { fg: 5 } }]);
});

test("other escape sequences (cursor, title, hyperlinks) are dropped, text kept", () => {
  const text = "\x1b[2J\x1b[Hclear\x1b]0;title\x07 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\x1b(B!";
  assert.equal(plain(new AnsiParser().feed(text)), "clear link!");
});

test("CR LF is one line break; a lone CR (progress bars) starts a new line", () => {
  const parser = new AnsiParser();
  assert.equal(plain(parser.feed("a\r\nb\rc")), "a\nb\nc");
  assert.equal(plain(parser.feed("d\r")), "d");
  assert.equal(plain(parser.feed("\ne")), "\ne");
});

test("stray control characters are removed but tabs and newlines kept", () => {
  assert.equal(plain(new AnsiParser().feed("a\x07b\x00c\td\n")), "abc\td\n");
});

test("an unterminated escape at the end of the stream is flushed as text", () => {
  const parser = new AnsiParser();
  assert.equal(plain(parser.feed("x\x1b[12")), "x");
  assert.equal(plain(parser.flush()), "[12");
});

test("a very long unterminated sequence is not held forever", () => {
  const parser = new AnsiParser();
  const out = plain(parser.feed(`\x1b]${"a".repeat(300)}`));
  assert.ok(out.endsWith("a".repeat(300)));
});

test("inverse swaps foreground and background", () => {
  assert.deepEqual(cssOf({ inverse: true, fg: 1 }).classes.sort(),
    ["ansi-bg-1", "ansi-fg-default-bg"]);
});
