import assert from "node:assert/strict";
import { test } from "node:test";

import { Connection } from "../js/connection.js";
import { newCell, parseNotebook, serializeNotebook } from "../js/nbformat.js";
import { Notebooks } from "../js/notebook-registry.js";

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.onclose?.({}); }
  receive(frame) { this.onmessage({ data: JSON.stringify(frame) }); }
  /** The frames sent of ``type``, and forget them. */
  take(type) {
    const picked = this.sent.filter((f) => f.type === type);
    this.sent = this.sent.filter((f) => f.type !== type);
    return picked;
  }
}

/**
 * The page's wiring (web/js/app.js) without the DOM: the Connection over a fake socket, frames
 * routed to the notebooks, their frames sent back, the changes they asked for recorded.
 */
function page(cells = ["x = 41", "x + 1", "print('hi')"]) {
  FakeSocket.all = [];
  const items = new Map();
  const timers = [];
  const connection = new Connection({
    WebSocket: FakeSocket,
    storage: { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v) },
    location: { protocol: "http:", host: "h" },
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => {},
    random: () => 0.5,
  });
  const notebooks = new Notebooks();
  const changes = [];
  const act = (result) => {
    if (!result) return false;
    for (const frame of result.frames) connection.send(frame);
    changes.push(...result.changes);
    return true;
  };
  connection.on("event", (frame) => {
    if (frame.type === "session") notebooks.sessionStarted(frame.resumed === true).forEach(act);
    else act(notebooks.apply(frame));
  });
  connection.on("drop", () => notebooks.connectionLost().forEach(act));
  const notebook = parseNotebook(JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: cells.map((source, k) => ({ ...newCell("code", source, `c${k + 1}`) })),
  }));
  const added = notebooks.add("work/nb.ipynb", notebook);
  act(added);
  const socket = () => FakeSocket.all.at(-1);
  return { connection, notebooks, session: added.session, changes, act, socket, timers,
    connect(resumed = false) {
      if (!socket() || socket().closed) connection.connect();
      socket().receive({ type: "session", sessionId: "s", token: "t", ...(resumed ? { resumed } : {}) });
    } };
}

/** The frames a kernel sends for one cell: queued, running, its outputs, completion. */
function runOnServer(socket, execute, { executionId, outputs = [], verdict = "ok", count }) {
  const ids = { executionId, notebookId: execute.notebookId, cellId: execute.cellId };
  socket.receive({ type: "status", status: "queued", ...ids, requestId: execute.requestId });
  socket.receive({ type: "status", status: "running", ...ids });
  for (const output of outputs) socket.receive({ type: "notebook_output", ...ids, output });
  socket.receive({ type: "completion", verdict, ...ids, executionCount: count, wallMs: 12 });
}

test("the notebook is opened on the socket once the session starts", () => {
  const p = page();
  assert.equal(p.session.kernelStatus, "offline");
  p.connect();
  const [open] = p.socket().take("notebook_open");
  assert.deepEqual(open, { type: "notebook_open", kernel: "python", notebookId: p.session.notebookId, requestId: "nb-1" });
  assert.equal(p.session.kernelStatus, "opening");
  p.socket().receive({ type: "notebook", notebookId: p.session.notebookId, kernel: "python", state: "open", requestId: "nb-1" });
  assert.equal(p.session.kernelStatus, "idle");
  assert.equal(p.session.kernelLabel, "Idle");
});

test("x = 41 then x + 1: outputs and execution counts land in the cells, exactly as received", () => {
  const p = page();
  p.connect();
  p.socket().take("notebook_open");
  p.act(p.session.runCells(["c1"]));
  const [first] = p.socket().take("notebook_execute");
  assert.deepEqual(first, { type: "notebook_execute", cellId: "c1", code: "x = 41",
    notebookId: p.session.notebookId, requestId: first.requestId });
  assert.equal(p.session.prompt("c1"), "[*]");
  runOnServer(p.socket(), first, { executionId: "e1", count: 1 });
  assert.equal(p.session.prompt("c1"), "[1]");
  assert.equal(p.session.run("c1").summary, "Done");
  assert.equal(p.session.run("c1").usage, "12 ms");

  p.act(p.session.runCells(["c2"]));
  const [second] = p.socket().take("notebook_execute");
  const result = { output_type: "execute_result", execution_count: 2, data: { "text/plain": "42" }, metadata: {} };
  p.changes.length = 0;
  runOnServer(p.socket(), second, { executionId: "e2", outputs: [result], count: 2 });
  assert.deepEqual(p.changes.filter((c) => c.kind === "output"), [{ kind: "output", cellId: "c2", output: result }]);
  assert.ok(p.changes.some((c) => c.kind === "dirty"));
  const saved = JSON.parse(serializeNotebook(p.session.notebook));
  assert.deepEqual(saved.cells[1].outputs, [result]);
  assert.equal(saved.cells[1].execution_count, 2);
  assert.equal(p.session.kernelStatus, "idle");
});

test("Run all sends the cells one at a time, in order, each after the last completed", () => {
  const p = page(["a = 1", "b = a + 1", "print(b)"]);
  p.connect();
  p.socket().take("notebook_open");
  p.act(p.session.runAll());
  assert.deepEqual(p.session.notebook.cells.map((c) => p.session.prompt(c.id)), ["[*]", "[*]", "[*]"]);
  assert.equal(p.session.kernelStatus, "busy");
  const order = [];
  for (let k = 1; k <= 3; k += 1) {
    const sent = p.socket().take("notebook_execute");
    assert.equal(sent.length, 1, "one cell out at a time");
    order.push(sent[0].code);
    runOnServer(p.socket(), sent[0], { executionId: `e${k}`, count: k,
      outputs: k === 3 ? [{ output_type: "stream", name: "stdout", text: "2\n" }] : [] });
  }
  assert.deepEqual(order, ["a = 1", "b = a + 1", "print(b)"]);
  assert.deepEqual(p.session.notebook.cells.map((c) => p.session.prompt(c.id)), ["[1]", "[2]", "[3]"]);
  assert.deepEqual(p.session.cell("c3").outputs, [{ output_type: "stream", name: "stdout", text: "2\n" }]);
  assert.equal(p.session.kernelStatus, "idle");
});

test("a cell that raises stops Run all there, like Jupyter", () => {
  const p = page(["1/0", "after = 1", "more = 2"]);
  p.connect();
  p.act(p.session.runAll());
  const [first] = p.socket().take("notebook_execute");
  const error = { output_type: "error", ename: "ZeroDivisionError", evalue: "division by zero",
    traceback: ["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"] };
  runOnServer(p.socket(), first, { executionId: "e1", outputs: [error], verdict: "runtime_error", count: 1 });
  assert.deepEqual(p.socket().take("notebook_execute"), [], "the rest is not sent");
  assert.equal(p.session.run("c1").summary, "Error");
  assert.equal(p.session.run("c2").phase, "idle");
  assert.match(p.session.run("c2").summary, /Not run: an earlier cell did not finish/);
  assert.equal(p.session.prompt("c2"), "[ ]");
  assert.deepEqual(p.session.cell("c1").outputs, [error]);
});

test("Interrupt sends notebook_interrupt and drops the queue; stop cancels a queued cell", () => {
  const p = page(["while True: pass", "x = 1"]);
  p.connect();
  p.socket().take("notebook_open");
  p.act(p.session.runAll());
  const [first] = p.socket().take("notebook_execute");
  p.socket().receive({ type: "status", status: "queued", executionId: "e1", notebookId: first.notebookId,
    cellId: "c1", requestId: first.requestId });
  p.act(p.session.interrupt());
  assert.deepEqual(p.socket().sent, [
    { type: "stop", executionId: "e1" },
    { type: "notebook_interrupt", notebookId: p.session.notebookId, requestId: p.socket().sent[1].requestId },
  ]);
  assert.equal(p.session.kernelStatus, "interrupting");
  assert.equal(p.session.run("c2").summary, "Not run: interrupted");
  p.socket().receive({ type: "completion", executionId: "e1", notebookId: first.notebookId, cellId: "c1", verdict: "cancelled" });
  p.socket().receive({ type: "notebook", notebookId: first.notebookId, state: "none", requestId: p.socket().sent[1].requestId });
  assert.equal(p.session.run("c1").summary, "Interrupted");
  assert.equal(p.session.kernelStatus, "idle");
});

test("Restart drops the queue and cancels the running cell; the kernel says restarted", () => {
  const p = page(["import time; time.sleep(60)", "x = 1"]);
  p.connect();
  p.act(p.session.runAll());
  const [first] = p.socket().take("notebook_execute");
  p.socket().receive({ type: "status", status: "running", executionId: "e1", requestId: first.requestId,
    notebookId: first.notebookId, cellId: "c1" });
  p.act(p.session.restart());
  const [restart] = p.socket().take("notebook_restart");
  assert.equal(p.session.kernelStatus, "restarting");
  p.changes.length = 0;
  p.socket().receive({ type: "notebook", notebookId: restart.notebookId, state: "restarted", requestId: restart.requestId });
  assert.equal(p.session.run("c1").summary, "Cancelled: the kernel restarted");
  assert.equal(p.session.kernelStatus, "idle");
  assert.ok(p.changes.some((c) => c.kind === "notice" && /variables are gone/.test(c.text)));
  // The platform's late completion for the cancelled cell is ignored.
  p.socket().receive({ type: "completion", executionId: "e1", notebookId: first.notebookId, cellId: "c1", verdict: "cancelled" });
  assert.equal(p.session.run("c1").summary, "Cancelled: the kernel restarted");
});

test("a dead kernel is shown; the next cell that runs brings a new one", () => {
  const p = page(["big = 'x' * 10**12", "y = 1"]);
  p.connect();
  p.act(p.session.runCells(["c1"]));
  const [first] = p.socket().take("notebook_execute");
  p.socket().receive({ type: "notebook", notebookId: first.notebookId, state: "dead", message: "out of memory" });
  runOnServer(p.socket(), first, { executionId: "e1", verdict: "memory_limit" });
  assert.equal(p.session.kernelStatus, "dead");
  assert.match(p.session.run("c1").summary, /Out of memory/);
  p.act(p.session.runCells(["c2"]));
  const [second] = p.socket().take("notebook_execute");
  p.socket().receive({ type: "status", status: "running", executionId: "e2", requestId: second.requestId,
    notebookId: second.notebookId, cellId: "c2" });
  assert.equal(p.session.kernelStatus, "busy");
});

test("a refused cell fails with words and the queue after it is dropped", () => {
  const p = page(["a", "b"]);
  p.connect();
  p.act(p.session.runAll());
  const [first] = p.socket().take("notebook_execute");
  p.socket().receive({ type: "error", code: "queue_full", message: "full", requestId: first.requestId });
  assert.equal(p.session.run("c1").phase, "failed");
  assert.match(p.session.run("c1").summary, /Not run: The platform is busy/);
  assert.equal(p.session.run("c2").phase, "idle");
  assert.equal(p.session.busy, false);
});

test("a dropped socket: notebook_open again on the resumed session, the cell carries on", () => {
  const p = page(["import time; time.sleep(3)", "x = 2"]);
  p.connect();
  p.act(p.session.runAll());
  const [first] = p.socket().take("notebook_execute");
  p.socket().receive({ type: "status", status: "running", executionId: "e1", requestId: first.requestId,
    notebookId: first.notebookId, cellId: "c1" });
  p.socket().close();
  assert.equal(p.session.kernelStatus, "offline");
  assert.equal(p.session.run("c1").phase, "detached");
  p.timers.shift()();
  p.connect(true);
  assert.deepEqual(p.socket().sent.map((f) => f.type), ["notebook_open", "attach"],
    "notebook_open first, then attach for the running cell");
  assert.deepEqual(p.socket().take("attach"), [{ type: "attach", executionId: "e1" }]);
  const reopened = p.socket().take("notebook_open");
  assert.equal(reopened.length, 1, "notebook_open is sent again on the new socket");
  assert.equal(reopened[0].notebookId, first.notebookId, "the same kernel");
  assert.equal(p.session.run("c1").summary, "Running (reconnected)");
  p.socket().receive({ type: "completion", executionId: "e1", notebookId: first.notebookId, cellId: "c1",
    verdict: "ok", executionCount: 1 });
  const [second] = p.socket().take("notebook_execute");
  assert.equal(second.code, "x = 2", "the queue goes on, on the new socket");
});

test("a new session after a drop loses the kernel: the running cell and the queue end", () => {
  const p = page(["import time; time.sleep(3)", "x = 2"]);
  p.connect();
  p.act(p.session.runAll());
  const [first] = p.socket().take("notebook_execute");
  p.socket().receive({ type: "status", status: "running", executionId: "e1", requestId: first.requestId,
    notebookId: first.notebookId, cellId: "c1" });
  p.socket().close();
  p.timers.shift()();
  p.changes.length = 0;
  p.connect(false);
  assert.equal(p.session.run("c1").phase, "lost");
  assert.equal(p.session.run("c2").phase, "idle");
  assert.deepEqual(p.socket().take("notebook_execute"), []);
  assert.ok(p.changes.some((c) => c.kind === "notice" && /kernel and its variables are gone/.test(c.text)));
});

test("cells run before the socket is up wait, then go in order", () => {
  const p = page(["a = 1", "b = 2"]);
  p.act(p.session.runAll());
  assert.equal(FakeSocket.all.length, 0);
  p.connect();
  assert.deepEqual(p.socket().sent.map((f) => f.type), ["notebook_open", "notebook_execute"]);
  assert.equal(p.socket().sent[1].code, "a = 1");
});

test("frames of consoles and of other notebooks are not taken", () => {
  const p = page();
  p.connect();
  assert.equal(p.notebooks.apply({ type: "status", status: "queued", executionId: "x", requestId: "run-1" }), null);
  assert.equal(p.notebooks.apply({ type: "error", code: "queue_full", requestId: "run-1" }), null);
  assert.equal(p.notebooks.apply({ type: "completion", executionId: "zz", notebookId: "other", verdict: "ok" }), null);
});

test("a display_data image is kept for the file; editing cells marks the notebook dirty", () => {
  const p = page(["plot()"]);
  p.connect();
  p.act(p.session.runCells(["c1"]));
  const [execute] = p.socket().take("notebook_execute");
  const image = { output_type: "display_data", data: { "image/png": PNG, "text/plain": "<Figure>" }, metadata: {} };
  runOnServer(p.socket(), execute, { executionId: "e1", outputs: [image], count: 1 });
  const saved = JSON.parse(serializeNotebook(p.session.notebook));
  assert.deepEqual(saved.cells[0].outputs, [image]);

  const { cell, changes } = p.session.insertCell("markdown", 0);
  assert.deepEqual(changes.map((c) => c.kind), ["structure", "dirty"]);
  assert.equal(p.session.notebook.cells[0], cell);
  p.session.moveCell(cell.id, 1);
  assert.equal(p.session.notebook.cells[1].id, cell.id);
  assert.equal(p.session.setSource(cell.id, "# hi").changes[0].kind, "dirty");
  p.session.setCellType("c1", "markdown");
  assert.equal(p.session.cell("c1").outputs, undefined);
  p.session.deleteCell(cell.id);
  assert.deepEqual(p.session.notebook.cells.map((c) => c.id), ["c1"]);
});

test("a renamed notebook keeps its kernel; a removed one closes it", () => {
  const p = page(["x = 1"]);
  p.connect();
  const [open] = p.socket().take("notebook_open");
  p.notebooks.rename("work/nb.ipynb", "work/renamed.ipynb");
  assert.equal(p.notebooks.byPath("work/renamed.ipynb"), p.session);
  assert.equal(p.session.notebookId, open.notebookId, "the same kernel after a rename");
  const removed = p.notebooks.remove("work/renamed.ipynb");
  assert.deepEqual(removed.frames.map((f) => [f.type, f.notebookId]), [["notebook_close", open.notebookId]]);
  assert.equal(p.notebooks.byPath("work/renamed.ipynb"), null);
  assert.equal(p.notebooks.remove("work/renamed.ipynb"), null);
});

test("a finished cell's outputs replayed after attach are not taken twice", () => {
  const p = page(["print('once')", "x = 1"]);
  p.connect();
  p.act(p.session.runCells(["c1"]));
  const [first] = p.socket().take("notebook_execute");
  const once = { output_type: "stream", name: "stdout", text: "once\n" };
  runOnServer(p.socket(), first, { executionId: "e1", outputs: [once], count: 1 });
  p.act(p.session.runCells(["c1"])); // run again: the same cell id is out, not yet queued
  const ids = { executionId: "e1", notebookId: first.notebookId, cellId: "c1" };
  p.socket().receive({ type: "notebook_output", ...ids, output: once });
  p.socket().receive({ type: "completion", verdict: "ok", ...ids, executionCount: 1, requestId: first.requestId });
  assert.deepEqual(p.session.cell("c1").outputs, []);
  assert.equal(p.session.run("c1").phase, "sending");
});
