import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CELL_ID, emptyNotebook, isNotebookPath, joinText, kernelOf, newCellId, NotebookError,
  notebookIdFor, parseNotebook, sampleNotebook, serializeNotebook, splitLines,
} from "../js/nbformat.js";

// As Jupyter writes it: sources as arrays of lines, outputs with multiline arrays too.
const FROM_JUPYTER = `{
 "cells": [
  {
   "cell_type": "markdown",
   "id": "intro",
   "metadata": {},
   "source": ["# Title\\n", "\\n", "Some *text*."]
  },
  {
   "cell_type": "code",
   "execution_count": 3,
   "id": "c-2",
   "metadata": {"tags": ["keep"]},
   "outputs": [
    {"name": "stdout", "output_type": "stream", "text": ["a\\n", "b\\n"]},
    {"data": {"text/plain": ["42"]}, "execution_count": 3, "metadata": {}, "output_type": "execute_result"}
   ],
   "source": ["print('a')\\n", "print('b')\\n", "x + 1"]
  }
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
              "language_info": {"name": "python", "version": "3.11.2"}},
 "nbformat": 4,
 "nbformat_minor": 5
}`;

test("sources written as arrays of lines or as strings read the same", () => {
  const fromLines = parseNotebook(FROM_JUPYTER);
  const asStrings = JSON.parse(FROM_JUPYTER);
  for (const cell of asStrings.cells) cell.source = cell.source.join("");
  const fromStrings = parseNotebook(JSON.stringify(asStrings));
  assert.equal(fromLines.cells[1].source, "print('a')\nprint('b')\nx + 1");
  assert.deepEqual(fromStrings, fromLines);
  assert.equal(fromLines.cells[0].source, "# Title\n\nSome *text*.");
});

test("a notebook survives a round trip: parse → serialise → parse, outputs untouched", () => {
  const first = parseNotebook(FROM_JUPYTER);
  const text = serializeNotebook(first);
  const again = parseNotebook(text);
  assert.deepEqual(again, first);
  const written = JSON.parse(text);
  assert.equal(written.nbformat, 4);
  assert.equal(written.nbformat_minor, 5);
  assert.deepEqual(written.metadata.language_info, { name: "python", version: "3.11.2" });
  const code = written.cells[1];
  assert.deepEqual(Object.keys(code), ["cell_type", "execution_count", "id", "metadata", "outputs", "source"]);
  assert.deepEqual(code.source, ["print('a')\n", "print('b')\n", "x + 1"]);
  assert.deepEqual(code.outputs, JSON.parse(FROM_JUPYTER).cells[1].outputs, "outputs exactly as read");
  assert.deepEqual(code.metadata, { tags: ["keep"] });
  assert.deepEqual(Object.keys(written.cells[0]), ["cell_type", "id", "metadata", "source"]);
  assert.ok(text.startsWith('{\n "cells": [\n  {\n   "cell_type"'), "Jupyter's one-space indent");
  assert.ok(text.endsWith("}\n"));
});

test("the empty notebook is valid nbformat 4.5 with one code cell and a kernelspec", () => {
  const notebook = emptyNotebook();
  const text = serializeNotebook(notebook);
  const data = JSON.parse(text);
  assert.equal(data.nbformat, 4);
  assert.ok(data.nbformat_minor >= 4);
  assert.equal(data.metadata.kernelspec.name, "python3");
  assert.equal(data.metadata.language_info.name, "python");
  assert.equal(data.cells.length, 1);
  const [cell] = data.cells;
  assert.deepEqual(cell, { cell_type: "code", execution_count: null, id: cell.id, metadata: {}, outputs: [], source: [] });
  assert.match(cell.id, CELL_ID);
  assert.deepEqual(parseNotebook(text), notebook);
});

test("missing, invalid and duplicate cell ids are replaced; old minors are upgraded", () => {
  const nb = parseNotebook(JSON.stringify({
    nbformat: 4, nbformat_minor: 2, metadata: {},
    cells: [
      { cell_type: "code", source: "a", outputs: [] },
      { cell_type: "code", id: "same", source: "b" },
      { cell_type: "markdown", id: "same", source: "c" },
      { cell_type: "code", id: "has space", source: "d", execution_count: "7" },
      { cell_type: "heading", id: "h", source: "old", level: 1 },
    ],
  }));
  const ids = nb.cells.map((c) => c.id);
  assert.equal(new Set(ids).size, 5);
  assert.ok(ids.every((id) => CELL_ID.test(id)));
  assert.equal(ids[1], "same");
  assert.equal(nb.nbformat_minor, 5);
  assert.deepEqual(nb.cells[1].outputs, [], "a code cell without outputs gets an empty list");
  assert.equal(nb.cells[3].execution_count, null);
  assert.equal(nb.cells[4].cell_type, "raw", "an unknown cell type is kept as raw text");
  assert.equal(nb.metadata.kernelspec.name, "python3", "a missing kernelspec is filled in");
});

test("what is not an nbformat 4 notebook is refused in words", () => {
  assert.throws(() => parseNotebook("{nope"), (e) => e instanceof NotebookError && /not valid JSON/.test(e.message));
  assert.throws(() => parseNotebook("[]"), /no JSON object/);
  assert.throws(() => parseNotebook('{"nbformat": 3, "worksheets": []}'), /nbformat 4.*nbformat 3/);
  assert.throws(() => parseNotebook('{"cells": []}'), /no nbformat version/);
  assert.throws(() => parseNotebook('{"nbformat": 4}'), /no list of cells/);
});

test("lines split and join as nbformat's multiline strings", () => {
  assert.deepEqual(splitLines(""), []);
  assert.deepEqual(splitLines("a"), ["a"]);
  assert.deepEqual(splitLines("a\n"), ["a\n"]);
  assert.deepEqual(splitLines("a\n\nb"), ["a\n", "\n", "b"]);
  assert.equal(joinText(["a\n", "b"]), "a\nb");
  assert.equal(joinText("x"), "x");
  assert.equal(joinText(undefined), "");
});

test("the kernel follows the kernelspec: bash or python", () => {
  assert.equal(kernelOf(emptyNotebook("bash")), "bash");
  assert.equal(kernelOf(emptyNotebook()), "python");
  assert.equal(kernelOf({ metadata: { kernelspec: { name: "ir" } } }), "python");
});

test("notebook ids are stable per path and fit the protocol", () => {
  const id = notebookIdFor("analysis/Q3 report.ipynb");
  assert.equal(id, notebookIdFor("analysis/Q3 report.ipynb"));
  assert.notEqual(id, notebookIdFor("analysis/Q3_report.ipynb"));
  assert.match(id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.match(notebookIdFor(`${"x/".repeat(120)}n.ipynb`), /^[A-Za-z0-9_-]{1,64}$/);
  assert.ok(isNotebookPath("a/B.IPYNB") && !isNotebookPath("a.py"));
  assert.match(newCellId(() => [0, 15, 255, 1]), /^000fff01$/);
});

test("the sample notebook has the two cells that share x and the plot", () => {
  const data = JSON.parse(serializeNotebook(sampleNotebook()));
  const sources = data.cells.map((c) => c.source.join(""));
  assert.ok(sources.includes("x = 41") && sources.includes("x + 1"));
  assert.ok(sources.includes("import matplotlib.pyplot as plt\nplt.plot([1,2,3],[1,4,9])\nplt.show()"));
  assert.equal(data.cells[0].cell_type, "markdown");
});
