import assert from "node:assert/strict";
import { test } from "node:test";

import {
  languageIdOf, pathOf, serverFor, toCompletionContext, toCompletionList, toHover, toMarkdown,
  toMarkers, toPlaces, toPosition, toRange, toSignatureHelp, uriOf,
} from "../js/lsp-convert.js";
import { MONACO } from "./lsp-fakes.js";

const range = (l1, c1, l2, c2) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });
const WORD = { startLineNumber: 2, startColumn: 4, endLineNumber: 2, endColumn: 4 };

test("each file goes to the server of its extension, with its LSP language id", () => {
  const cases = {
    "main.py": ["python", "python"], "src/util.PY": ["python", "python"],
    "main.js": ["typescript", "javascript"], "lib.mjs": ["typescript", "javascript"],
    "main.ts": ["typescript", "typescript"], "main.c": ["cpp", "c"], "util.h": ["cpp", "c"],
    "main.cpp": ["cpp", "cpp"], "a/b.hpp": ["cpp", "cpp"],
    "notes.txt": [null, null], "analysis.ipynb": [null, null], Makefile: [null, null], ".py": [null, null],
  };
  for (const [path, [server, id]] of Object.entries(cases)) {
    assert.equal(serverFor(path), server, path);
    assert.equal(languageIdOf(path), id, path);
  }
});

test("project paths and the servers' URIs map both ways under /workspace", () => {
  assert.equal(uriOf("main.py"), "file:///workspace/main.py");
  assert.equal(uriOf("src/my file#1.py"), "file:///workspace/src/my%20file%231.py");
  assert.equal(uriOf("données/é.py"), "file:///workspace/donn%C3%A9es/%C3%A9.py");
  for (const path of ["main.py", "src/my file#1.py", "données/é.py", "a/b/c.ts"]) {
    assert.equal(pathOf(uriOf(path)), path);
  }
  assert.equal(pathOf("file:///workspace/lib/util.py"), "lib/util.py");
  // Outside the project: a library's stub, another root, nonsense.
  for (const uri of ["file:///usr/lib/python3.13/os.py", "file:///workspacex/a.py", "file:///workspace/",
    "file:///workspace/../etc/passwd", "file:///workspace/a//b.py", "file:///workspace/%E0%A4%A.py",
    "untitled:1", null, 7]) {
    assert.equal(pathOf(uri), null, String(uri));
  }
});

test("positions and ranges: LSP counts from 0, Monaco from 1", () => {
  assert.deepEqual(toPosition({ lineNumber: 2, column: 4 }), { line: 1, character: 3 });
  assert.deepEqual(toRange(range(0, 0, 1, 3)),
    { startLineNumber: 1, startColumn: 1, endLineNumber: 2, endColumn: 4 });
});

test("completion items become Monaco suggestions", () => {
  const list = toCompletionList({
    isIncomplete: true,
    items: [
      { label: "path", kind: 9, detail: "module", documentation: { kind: "markdown", value: "**os.path**" },
        sortText: "09.9999.path" },
      { label: "getcwd", kind: 3, insertText: "getcwd()", labelDetails: { detail: "()", description: "os" } },
      { label: "printf", kind: 3, insertTextFormat: 2, textEdit: { range: range(1, 0, 1, 3), newText: "printf(${1})" },
        documentation: "plain *text*", deprecated: true },
      { label: "log", kind: 2, textEdit: { insert: range(1, 8, 1, 9), replace: range(1, 8, 1, 12), newText: "log" },
        documentation: { kind: "plaintext", value: "a*b" },
        additionalTextEdits: [{ range: range(0, 0, 0, 0), newText: "import os\n" }] },
      { label: "x", kind: 99 },
    ],
  }, MONACO, WORD);
  assert.equal(list.incomplete, true);
  const [path, getcwd, printf, log, x] = list.suggestions;
  assert.deepEqual({ ...path, lspItem: undefined }, {
    label: "path", kind: MONACO.CompletionItemKind.Module, insertText: "path", range: WORD,
    detail: "module", documentation: { value: "**os.path**" }, sortText: "09.9999.path", lspItem: undefined,
  });
  assert.equal(path.lspItem.label, "path", "the server's item is kept for completionItem/resolve");
  assert.deepEqual(getcwd.label, { label: "getcwd", detail: "()", description: "os" });
  assert.equal(getcwd.insertText, "getcwd()");
  assert.equal(getcwd.kind, MONACO.CompletionItemKind.Function);
  assert.equal(printf.insertText, "printf(${1})");
  assert.equal(printf.insertTextRules, MONACO.CompletionItemInsertTextRule.InsertAsSnippet);
  assert.deepEqual(printf.range, { startLineNumber: 2, startColumn: 1, endLineNumber: 2, endColumn: 4 });
  assert.deepEqual(printf.tags, [1]);
  assert.deepEqual(printf.documentation, { value: "plain *text*" });
  assert.deepEqual(log.range, {
    insert: { startLineNumber: 2, startColumn: 9, endLineNumber: 2, endColumn: 10 },
    replace: { startLineNumber: 2, startColumn: 9, endLineNumber: 2, endColumn: 13 },
  });
  assert.deepEqual(log.documentation, { value: "a\\*b" }, "plain text is not read as markdown");
  assert.deepEqual(log.additionalTextEdits, [{ range: { startLineNumber: 1, startColumn: 1,
    endLineNumber: 1, endColumn: 1 }, text: "import os\n" }]);
  assert.equal(x.kind, MONACO.CompletionItemKind.Text);
  assert.equal(toCompletionList([{ label: "a" }], MONACO, WORD).incomplete, false);
  assert.deepEqual(toCompletionList(null, MONACO, WORD), { incomplete: false, suggestions: [] });
});

test("Monaco's completion trigger kinds are LSP's plus one", () => {
  assert.deepEqual(toCompletionContext({ triggerKind: 0 }), { triggerKind: 1 });
  assert.deepEqual(toCompletionContext({ triggerKind: 1, triggerCharacter: "." }),
    { triggerKind: 2, triggerCharacter: "." });
  assert.deepEqual(toCompletionContext({ triggerKind: 2 }), { triggerKind: 3 });
});

test("hover contents of every LSP shape become markdown", () => {
  assert.deepEqual(toHover({ contents: { kind: "markdown", value: "```python\ndef f()\n```" }, range: range(0, 4, 0, 5) }),
    { contents: [{ value: "```python\ndef f()\n```" }],
      range: { startLineNumber: 1, startColumn: 5, endLineNumber: 1, endColumn: 6 } });
  assert.deepEqual(toHover({ contents: [{ language: "c", value: "int x" }, "a *doc*", ""] }),
    { contents: [{ value: "```c\nint x\n```" }, { value: "a *doc*" }] });
  assert.equal(toHover(null), null);
  assert.equal(toHover({ contents: [] }), null);
  assert.equal(toHover({ contents: { kind: "plaintext", value: "  " } }), null);
  assert.equal(toMarkdown(undefined), null);
});

test("signature help keeps labels, offsets and the active parameter", () => {
  assert.equal(toSignatureHelp(null), null);
  assert.equal(toSignatureHelp({ signatures: [] }), null);
  const help = toSignatureHelp({
    signatures: [{ label: "f(a: int, b: str)", documentation: "Does f.",
      parameters: [{ label: [2, 8], documentation: { kind: "markdown", value: "`a`" } }, { label: "b: str" }] }],
    activeSignature: 3, activeParameter: 1,
  });
  assert.deepEqual(help, {
    signatures: [{ label: "f(a: int, b: str)", documentation: { value: "Does f." },
      parameters: [{ label: [2, 8], documentation: { value: "`a`" } }, { label: "b: str" }] }],
    activeSignature: 0, activeParameter: 1,
  });
});

test("definitions: the project's places only, from Location and LocationLink answers", () => {
  const place = { path: "lib/util.py", range: { startLineNumber: 1, startColumn: 5, endLineNumber: 1, endColumn: 9 } };
  assert.deepEqual(toPlaces({ uri: "file:///workspace/lib/util.py", range: range(0, 4, 0, 8) }), [place]);
  assert.deepEqual(toPlaces([
    { uri: "file:///usr/lib/python3/os.py", range: range(0, 0, 0, 1) },
    { targetUri: "file:///workspace/lib/util.py", targetRange: range(0, 0, 2, 0),
      targetSelectionRange: range(0, 4, 0, 8), originSelectionRange: range(3, 0, 3, 4) },
  ]), [place]);
  assert.deepEqual(toPlaces(null), []);
  assert.deepEqual(toPlaces([]), []);
});

test("published diagnostics become markers with Monaco's severities", () => {
  const markers = toMarkers([
    { range: range(2, 4, 2, 11), severity: 1, message: "\"missing\" is not defined", source: "Pyright",
      code: "reportUndefinedVariable" },
    { range: range(0, 7, 0, 9), severity: 2, message: "unused", tags: [1], code: 6133 },
    { range: range(4, 0, 4, 0), severity: 3, message: "info" },
    { range: range(5, 1, 5, 2), severity: 4, message: "hint" },
    { range: range(6, 0, 6, 1), message: "no severity" },
  ], MONACO.MarkerSeverity);
  assert.deepEqual(markers, [
    { startLineNumber: 3, startColumn: 5, endLineNumber: 3, endColumn: 12, severity: 8,
      message: "\"missing\" is not defined", source: "Pyright", code: "reportUndefinedVariable" },
    { startLineNumber: 1, startColumn: 8, endLineNumber: 1, endColumn: 10, severity: 4,
      message: "unused", source: "language server", code: "6133", tags: [1] },
    { startLineNumber: 5, startColumn: 1, endLineNumber: 5, endColumn: 1, severity: 2, message: "info",
      source: "language server" },
    { startLineNumber: 6, startColumn: 2, endLineNumber: 6, endColumn: 3, severity: 1, message: "hint",
      source: "language server" },
    { startLineNumber: 7, startColumn: 1, endLineNumber: 7, endColumn: 2, severity: 8, message: "no severity",
      source: "language server" },
  ]);
});
