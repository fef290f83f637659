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

function running(state, main = "main.py") {
  const run = started(state, main);
  const id = `e-${run.requestId}`;
  state.apply({ type: "status", status: "running", executionId: id, requestId: run.requestId });
  return { ...run, id };
}

test("a dropped connection detaches running tabs until the next session; finished tabs stay", () => {
  const state = new ConsoleState();
  const run = running(state, "a.py");
  const finished = started(state, "b.py");
  state.apply({ type: "completion", executionId: `e-${finished.requestId}`, verdict: "ok" });
  const dropped = state.connectionLost();
  assert.deepEqual(dropped.map((r) => r.tab.mainFile), ["a.py"]);
  assert.deepEqual(kinds(dropped[0]), ["status", "notice"]);
  assert.match(dropped[0].changes[1].text, /connection to the platform dropped; reconnecting/);
  assert.equal(run.tab.phase, "detached");
  assert.match(run.tab.summary, /reconnecting/);
  assert.ok(run.tab.active, "still running, as far as anyone knows");
  assert.ok(!run.tab.canStop && !run.tab.acceptsInput, "nothing can be sent while the socket is down");
  assert.equal(finished.tab.phase, "done");
  assert.deepEqual(state.connectionLost(), [], "a second drop changes nothing");
});

test("a resumed session takes the run over: later output, Stop and the completion reach its tab", () => {
  const state = new ConsoleState();
  const run = running(state);
  state.apply({ type: "output", executionId: run.id, stream: "stdout", data: "go\n\x1b[3" });
  const dropped = state.connectionLost();
  assert.deepEqual(kinds(dropped[0]), ["text", "status", "notice"], "held escape text is flushed before the gap");
  const resumed = state.sessionStarted(true);
  assert.equal(resumed.length, 1);
  assert.equal(resumed[0].tab, run.tab);
  assert.deepEqual(kinds(resumed[0]), ["status", "notice"]);
  assert.equal(resumed[0].changes[1].level, "info");
  assert.match(resumed[0].changes[1].text, /resumed.*may be missing/);
  assert.equal(run.tab.phase, "running");
  assert.equal(run.tab.summary, "Running (reconnected)");
  assert.ok(run.tab.canStop, "Stop works again, on the new socket");
  assert.ok(!run.tab.acceptsInput, "the platform closed its input on the drop");
  const out = state.apply({ type: "output", executionId: run.id, stream: "stdout", data: "more\n" });
  assert.equal(out.tab, run.tab);
  assert.deepEqual(out.changes, [{ kind: "text", stream: "stdout", segments: [{ text: "more\n", style: {} }] }]);
  const done = state.apply({ type: "completion", executionId: run.id, verdict: "cancelled",
    wallMs: 4000, cpuMs: 3900, memoryKb: 8000 });
  assert.equal(done.tab, run.tab);
  assert.equal(run.tab.phase, "done");
  assert.equal(run.tab.verdict, "cancelled");
  assert.equal(run.tab.summary, "Stopped");
  assert.equal(run.tab.usage, "4000 ms wall · 3900 ms CPU · 7.8 MB memory");
});

test("a run queued at the drop goes back to queued, and its running status keeps the mark", () => {
  const state = new ConsoleState();
  const run = started(state);
  state.connectionLost();
  state.sessionStarted(true);
  assert.equal(run.tab.phase, "queued");
  assert.equal(run.tab.summary, "Queued (reconnected)");
  state.apply({ type: "status", status: "running", executionId: `e-${run.requestId}` });
  assert.equal(run.tab.summary, "Running (reconnected)");
});

test("a completion delivered right after the resumed session ends the run with its verdict", () => {
  const state = new ConsoleState();
  const run = running(state);
  state.connectionLost();
  state.sessionStarted(true);
  const done = state.apply({ type: "completion", executionId: run.id, verdict: "ok", exitCode: 0, wallMs: 30 });
  assert.equal(done.tab, run.tab);
  assert.equal(run.tab.summary, "Finished");
  assert.equal(run.tab.usage, "30 ms wall");
});

test("a new session (not resumed) loses the detached runs, as before", () => {
  const state = new ConsoleState();
  const run = running(state);
  state.connectionLost();
  const lost = state.sessionStarted(false);
  assert.deepEqual(kinds(lost[0]), ["status", "notice"]);
  assert.equal(lost[0].changes[1].level, "error");
  assert.match(lost[0].changes[1].text, /new session/);
  assert.equal(run.tab.phase, "lost");
  assert.match(run.tab.summary, /^Connection lost/);
  assert.ok(!run.tab.active && !run.tab.canStop);
  assert.equal(state.apply({ type: "output", executionId: run.id, stream: "stdout", data: "x" }), null);
  assert.deepEqual(state.sessionStarted(true), [], "nothing is left to take over");
});

test("a run not yet confirmed when the socket drops is lost at once", () => {
  const state = new ConsoleState();
  const { tab } = state.start("main.py");
  const lost = state.connectionLost();
  assert.equal(lost[0].tab, tab);
  assert.equal(tab.phase, "lost");
  assert.match(lost[0].changes.at(-1).text, /before the run was confirmed/);
  assert.deepEqual(state.sessionStarted(true), []);
});

test("a carried-over run that the platform does not know (not_found) is lost", () => {
  const state = new ConsoleState();
  const run = running(state);
  state.connectionLost();
  state.sessionStarted(true);
  const result = state.apply({ type: "error", code: "not_found", message: "unknown", executionId: run.id });
  assert.equal(result.tab, run.tab);
  assert.deepEqual(kinds(result), ["status", "notice"]);
  assert.equal(run.tab.phase, "lost");
  assert.match(result.changes[1].text, /did not hand this run over/);
  // Without a reconnect, not_found (say, input after the end) is only a notice.
  const other = running(state, "b.py");
  const notice = state.apply({ type: "error", code: "not_found", message: "unknown", executionId: other.id });
  assert.deepEqual(kinds(notice), ["notice"]);
  assert.equal(other.tab.phase, "running");
});

test("a new Run in a carried-over tab starts afresh", () => {
  const state = new ConsoleState();
  running(state);
  state.connectionLost();
  state.sessionStarted(true);
  const again = state.start("main.py");
  assert.ok(again.stopFirst, "the carried-over run is stopped first");
  state.apply({ type: "status", status: "queued", executionId: "e-new", requestId: again.requestId });
  assert.equal(again.tab.summary, "Queued");
  assert.ok(again.tab.acceptsInput);
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

test("a run's output is kept as plain text for its diagnostics, afresh for each run", () => {
  const state = new ConsoleState();
  const { tab } = started(state);
  const id = tab.executionId;
  state.apply({ type: "output", executionId: id, stream: "stdout", data: "start\n" });
  state.apply({ type: "output", executionId: id, stream: "stderr", data: "\x1b[31mmain.py:1: err" });
  state.apply({ type: "completion", executionId: id, verdict: "runtime_error", exitCode: 1 });
  assert.equal(tab.transcript, "start\nmain.py:1: err");
  state.start("main.py");
  assert.equal(tab.transcript, "");
});

test("input given with the request closes the live input line", () => {
  const state = new ConsoleState();
  const { tab, requestId } = state.start("main.py", { inputGiven: true });
  state.apply({ type: "status", status: "running", executionId: "e1", requestId });
  assert.ok(tab.canStop);
  assert.ok(!tab.acceptsInput);
  state.start("main.py");
  assert.ok(!tab.inputGiven);
});

test("tabs come back after a reload: output, verdicts, and runs that went on wait for the session", () => {
  const before = new ConsoleState();
  const done = started(before, "hello.py");
  const doneOut = before.apply({ type: "output", executionId: done.tab.executionId, stream: "stdout", data: "hi\n" });
  before.remember(done.tab, doneOut.changes);
  before.apply({ type: "completion", executionId: done.tab.executionId, verdict: "ok", exitCode: 0, wallMs: 5 });
  const going = started(before, "server.py");
  before.remember(going.tab, [{ kind: "text", stream: "stdout", segments: [{ text: "listening\n", style: {} }] },
    { kind: "status" }]);
  before.start("new.py"); // not yet confirmed by the platform
  const saved = JSON.parse(JSON.stringify(before.snapshot()));

  const after = new ConsoleState();
  const restored = after.restore(saved);
  assert.deepEqual(restored.map((r) => r.tab.mainFile), ["hello.py", "server.py", "new.py"]);
  const [hello, server, lost] = restored;
  assert.equal(hello.tab.phase, "done");
  assert.equal(hello.tab.summary, "Finished");
  assert.equal(hello.tab.transcript, "hi\n");
  assert.deepEqual(kinds(hello), ["reset", "text", "status"]);
  assert.equal(server.tab.phase, "detached");
  assert.equal(lost.tab.phase, "lost");
  assert.match(lost.changes.at(-1).text, /reloaded before the platform confirmed/);

  after.sessionStarted(true);
  assert.equal(server.tab.phase, "queued", "back to where it was");
  assert.equal(server.tab.summary, "Queued (reconnected)");
  assert.ok(server.tab.resumed && server.tab.canStop && !server.tab.acceptsInput);
  const more = after.apply({ type: "output", executionId: server.tab.executionId, stream: "stdout", data: "client\n" });
  assert.equal(more.tab, server.tab, "its events find the tab again");
});

test("a reload into a new session loses the runs that went on; the kept log is capped", () => {
  const before = new ConsoleState();
  const going = started(before, "server.py");
  before.remember(going.tab, [{ kind: "text", stream: "stdout", segments: [{ text: "x".repeat(300_000), style: {} }] }]);
  assert.equal(going.tab.log.length, 1);
  assert.match(going.tab.log[0].text, /not kept across a reload/);
  const after = new ConsoleState();
  after.restore(before.snapshot());
  const [result] = after.sessionStarted(false);
  assert.equal(result.tab.phase, "lost");
  assert.deepEqual(after.restore("garbage"), []);
});
