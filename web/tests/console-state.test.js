import assert from "node:assert/strict";
import { test } from "node:test";

import { ConsoleState, describeUsage, describeVerdict, explainError } from "../js/console-state.js";

const kinds = (result) => result.changes.map((c) => c.kind);

function started(state, main = "main.py") {
  const run = state.start(main);
  state.apply({ type: "status", status: "queued", executionId: `e-${run.requestId}`, requestId: run.requestId });
  return run;
}

test("a run goes sending → queued → running → done, with the verdict and usage", () => {
  const state = new ConsoleState();
  const { tab, requestId, stopFirst, changes } = state.start("main.py");
  assert.equal(stopFirst, null);
  assert.deepEqual(changes.map((c) => c.kind), ["reset", "status"]);
  assert.equal(tab.phase, "sending");
  state.apply({ type: "status", status: "queued", executionId: "e1", requestId });
  assert.equal(tab.phase, "queued");
  assert.equal(tab.executionId, "e1");
  assert.ok(tab.acceptsInput, "input is accepted once queued: the server holds it");
  state.apply({ type: "status", status: "running", executionId: "e1", requestId });
  assert.equal(tab.summary, "Running");
  const done = state.apply({ type: "completion", executionId: "e1", verdict: "ok", exitCode: 0,
    wallMs: 12, cpuMs: 8, memoryKb: 9300, requestId });
  assert.equal(done.tab, tab);
  assert.equal(tab.phase, "done");
  assert.equal(tab.summary, "Finished");
  assert.equal(tab.usage, "12 ms wall · 8 ms CPU · 9.1 MB memory");
  assert.ok(!tab.active && !tab.acceptsInput);
});

test("output is routed by execution id and split by stream, ANSI parsed", () => {
  const state = new ConsoleState();
  const a = started(state, "server.py");
  const b = started(state, "client.py");
  const out = state.apply({ type: "output", executionId: `e-${a.requestId}`, stream: "stdout", data: "\x1b[32mok\x1b[0m\n" });
  assert.equal(out.tab, a.tab);
  assert.deepEqual(out.changes, [{ kind: "text", stream: "stdout",
    segments: [{ text: "ok", style: { fg: 2 } }, { text: "\n", style: {} }] }]);
  const err = state.apply({ type: "output", executionId: `e-${b.requestId}`, stream: "stderr", data: "boom\n" });
  assert.equal(err.tab, b.tab);
  assert.equal(err.changes[0].stream, "stderr");
});

test("events of unknown executions are ignored", () => {
  const state = new ConsoleState();
  assert.equal(state.apply({ type: "output", executionId: "nope", stream: "stdout", data: "x" }), null);
  assert.equal(state.apply({ type: "frobnicate" }), null);
});

test("a Run of the same main file reuses its tab and stops what it still runs", () => {
  const state = new ConsoleState();
  const first = started(state);
  const second = state.start("main.py");
  assert.equal(second.tab, first.tab);
  assert.equal(second.stopFirst, `e-${first.requestId}`);
  assert.notEqual(second.requestId, first.requestId);
  // Late events of the first run no longer reach the tab.
  assert.equal(state.apply({ type: "completion", executionId: `e-${first.requestId}`, verdict: "cancelled" }), null);
  assert.equal(state.tabs.size, 1);
});

test("a refused request fails its tab with words for the user", () => {
  const state = new ConsoleState();
  const { tab, requestId } = state.start("main.py");
  const result = state.apply({ type: "error", code: "queue_full", message: "queue is full", requestId });
  assert.equal(result.tab, tab);
  assert.deepEqual(kinds(result), ["status", "notice"]);
  assert.equal(tab.phase, "failed");
  assert.match(result.changes[1].text, /busy.*Wait a few seconds/);
});

test("an error for no tab becomes a page notice", () => {
  const state = new ConsoleState();
  const result = state.apply({ type: "error", code: "invalid_request", message: "bad frame" });
  assert.equal(result.tab, null);
  assert.match(result.changes[0].text, /refused the program: bad frame/);
});

test("a completion marks truncated output and flushes held escape text", () => {
  const state = new ConsoleState();
  const { requestId } = started(state);
  const id = `e-${requestId}`;
  state.apply({ type: "output", executionId: id, stream: "stdout", data: "tail\x1b[" });
  const done = state.apply({ type: "completion", executionId: id, verdict: "output_limit", truncated: true });
  assert.deepEqual(kinds(done), ["text", "notice", "status"]);
  assert.match(done.changes[1].text, /Output truncated/);
});

test("a dropped connection marks running tabs lost; finished tabs stay", () => {
  const state = new ConsoleState();
  const running = started(state, "a.py");
  const finished = started(state, "b.py");
  state.apply({ type: "completion", executionId: `e-${finished.requestId}`, verdict: "ok" });
  const lost = state.connectionLost();
  assert.deepEqual(lost.map((r) => r.tab.mainFile), ["a.py"]);
  assert.equal(running.tab.phase, "lost");
  assert.equal(finished.tab.phase, "done");
});

test("closing a tab returns the execution to stop", () => {
  const state = new ConsoleState();
  const { requestId } = started(state);
  assert.equal(state.close("main.py"), `e-${requestId}`);
  assert.equal(state.close("main.py"), null);
});

test("verdicts and errors in words", () => {
  assert.equal(describeVerdict({ verdict: "runtime_error", exitCode: 3 }), "Runtime error: exit code 3");
  assert.equal(describeVerdict({ verdict: "runtime_error", signal: "SIGSEGV" }), "Runtime error: killed by SIGSEGV");
  assert.match(describeVerdict({ verdict: "compile_error" }), /compiler's messages/);
  assert.equal(describeVerdict({ verdict: "cancelled" }), "Stopped");
  assert.equal(describeVerdict({ verdict: "internal_error", message: "runner lost" }),
    "The platform failed to run it: runner lost");
  assert.match(explainError("not_found"), /no longer running/);
  assert.match(explainError("unknown_language", "this installation runs: python"), /cannot run that language\. this/);
  assert.equal(describeUsage({ wallMs: 12_500, cpuMs: 3, memoryKb: 512 }), "12.5 s wall · 3 ms CPU · 512 KB memory");
  assert.equal(describeUsage({ verdict: "expired" }), "");
});
