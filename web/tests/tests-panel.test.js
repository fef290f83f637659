// The Tests panel's DOM-free part (web/js/tests-state.js): the tests kept in the project file,
// the `judge` frame, and a judgement's real events (as tests/integration/test_judging.py sees
// them on the socket) turned into what the panel shows.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Project, ProjectError, ProjectStore } from "../js/project.js";
import {
  CHECKERS, TESTS_PATH, TestRun, diffParts, emptySuite, judgeFrame, newTestName, parsePoints,
  readTests, storeTests, suiteProblem, testUsage, verdictTone, writeTests,
} from "../js/tests-state.js";

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
}

const TWO = {
  checker: "lines",
  tests: [
    { name: "doubles", stdin: "2\n", expectedOutput: "4\n" },
    { name: "wrong", stdin: "3\n", expectedOutput: "7\n", points: 3 },
  ],
};

function project() {
  const p = new Project();
  p.createFile("main.py", "print(int(input()) * 2)\n");
  p.createFile("lib/util.py", "");
  p.setOpen("lib/util.py");
  return p;
}

// --- storage -------------------------------------------------------------------------------

test("the tests go into the project file and come back from it, across a stored project", () => {
  const p = project();
  assert.equal(storeTests(p, writeTests(TWO)), true);
  // The new file becomes neither the main file nor the open one.
  assert.equal(p.main, "main.py");
  assert.equal(p.open, "lib/util.py");
  const storage = new MemoryStorage();
  new ProjectStore(storage).save(p);
  const reloaded = new ProjectStore(storage).load();
  assert.deepEqual(readTests(reloaded.content(TESTS_PATH)), { suite: TWO, problem: null });
  assert.equal(storeTests(reloaded, writeTests(emptySuite())), false);
  assert.deepEqual(readTests(reloaded.content(TESTS_PATH)).suite, emptySuite());
});

test("the file holds the judging API's own fields, so it can be sent as a request's tests", () => {
  const data = JSON.parse(writeTests(TWO));
  assert.deepEqual(data, {
    checker: { type: "lines" },
    tests: [
      { name: "doubles", stdin: "2\n", expectedOutput: "4\n" },
      { name: "wrong", stdin: "3\n", expectedOutput: "7\n", points: 3 },
    ],
  });
});

test("no file, or an empty one, is no tests; a broken file is said so and read as none", () => {
  assert.deepEqual(readTests(undefined), { suite: emptySuite(), problem: null });
  assert.deepEqual(readTests("  \n"), { suite: emptySuite(), problem: null });
  const broken = readTests("{\"tests\": [");
  assert.deepEqual(broken.suite, emptySuite());
  assert.match(broken.problem, /^\.coderunner\/tests\.json is not valid JSON/);
  assert.match(readTests("{}").problem, /has no "tests" list/);
  assert.match(readTests("{\"tests\": [{\"name\": \"a\"}]}").problem, /Test 1 .* "expectedOutput"/);
});

test("a file written by hand: an unknown checker is lines, a missing stdin is empty", () => {
  const { suite } = readTests(JSON.stringify({ checker: "float", tests: [{ name: "a", expectedOutput: "1" }] }));
  assert.deepEqual(suite, { checker: "lines", tests: [{ name: "a", stdin: "", expectedOutput: "1" }] });
  assert.equal(readTests(JSON.stringify({ checker: "tokens", tests: [] })).suite.checker, "tokens");
});

test("tests past a project file's 1 MiB are refused in words, and nothing is written", () => {
  const p = project();
  const big = { checker: "lines", tests: [{ name: "a", stdin: "x".repeat(1_048_576), expectedOutput: "" }] };
  assert.throws(() => storeTests(p, writeTests(big)), (e) => e instanceof ProjectError && /1 MiB/.test(e.message));
  assert.equal(p.files.has(TESTS_PATH), false);
});

test("a new test's name is one no test has", () => {
  assert.equal(newTestName([]), "test 1");
  assert.equal(newTestName([{ name: "test 2" }]), "test 3");
  assert.equal(newTestName([{ name: "test 3" }, { name: "x" }]), "test 4");
  assert.equal(newTestName([{ name: "test 2" }, { name: "test 3" }]), "test 4");
});

test("points: empty is the default, a whole number up to 1,000,000 is taken, else refused", () => {
  assert.equal(parsePoints(""), null);
  assert.equal(parsePoints(" 5 "), 5);
  assert.equal(parsePoints("0"), 0);
  assert.equal(parsePoints("1000000"), 1_000_000);
  assert.equal(parsePoints("1000001"), undefined);
  assert.equal(parsePoints("-1"), undefined);
  assert.equal(parsePoints("1.5"), undefined);
  assert.equal(parsePoints("two"), undefined);
});

test("what the judging API would refuse is said before anything is sent", () => {
  const one = (t) => ({ checker: "lines", tests: [{ name: "a", stdin: "", expectedOutput: "", ...t }] });
  assert.equal(suiteProblem(TWO), null);
  assert.equal(suiteProblem(emptySuite()), "Add a test first.");
  assert.equal(suiteProblem(one({ name: " " })), "Test 1 needs a name.");
  assert.match(suiteProblem(one({ name: "x".repeat(65) })), /at most 64 characters/);
  assert.match(suiteProblem(one({ name: "a\tb" })), /control characters/);
  assert.match(suiteProblem({ checker: "lines", tests: [TWO.tests[0], TWO.tests[0]] }),
    /Two tests are named "doubles"/);
  assert.match(suiteProblem(one({ points: 2_000_000 })), /points are a whole number/);
  assert.match(suiteProblem(one({ stdin: "é".repeat(600_000) })), /at most 1 MiB each/);
});

// --- the frame -----------------------------------------------------------------------------

test("Run all tests is one judge frame: the main file's program, every test, the checker", () => {
  const p = project();
  p.setStdin("main.py", "typed before running\n");
  storeTests(p, writeTests({ ...TWO, checker: "tokens" }));
  const run = p.runRequest([{ name: "python", extension: ".py" }]);
  const frame = judgeFrame(readTests(p.content(TESTS_PATH)).suite, run, "tests-1");
  assert.deepEqual(frame, {
    type: "judge",
    requestId: "tests-1",
    language: "python",
    // The tests file stays out: the program is not given its answers. No stdin: each test has its own.
    files: [{ name: "lib/util.py", content: "" }, { name: "main.py", content: "print(int(input()) * 2)\n" }],
    mainFile: "main.py",
    tests: [
      { name: "doubles", stdin: "2\n", expectedOutput: "4\n" },
      { name: "wrong", stdin: "3\n", expectedOutput: "7\n", points: 3 },
    ],
    checker: { type: "tokens" },
  });
});

test("the checker choices are lines (the default), exact and tokens", () => {
  assert.deepEqual(CHECKERS.map((c) => c.type), ["lines", "exact", "tokens"]);
  assert.equal(emptySuite().checker, "lines");
});

// --- a run's events ------------------------------------------------------------------------

const EXEC = "e1.sig";

/** The socket's events for TWO, as the platform sends them: queued, running, each test, the end. */
function judged(run) {
  const events = [
    { type: "status", status: "queued", executionId: EXEC, requestId: "tests-1" },
    { type: "status", status: "running", executionId: EXEC, requestId: "tests-1" },
    { type: "test", executionId: EXEC, result: { name: "wrong", verdict: "wrong_answer", timeMs: 31, memoryKb: 9300,
      checkerMessage: "line 1: expected '7', found '6'", diff: { line: 1, column: 1, expected: "7", got: "6" } } },
  ];
  for (const event of events) assert.equal(run.apply(event), true);
}

test("each test's verdict shows as its event comes; the rest wait", () => {
  const run = new TestRun("tests-1", ["doubles", "wrong"]);
  assert.equal(run.summary(), "Sending…");
  assert.equal(run.canStop, false);
  judged(run);
  assert.equal(run.executionId, EXEC);
  assert.equal(run.canStop, true);
  assert.equal(run.summary(), "Running: 1 of 2 judged");
  assert.equal(run.verdictOf("wrong"), "wrong_answer");
  assert.equal(run.verdictOf("doubles"), "pending");
  assert.equal(run.verdictOf("added after the run"), null);
  assert.equal(run.tone(), null);
});

test("the judgement gives the score and the verdict; the completion ends the run", () => {
  const run = new TestRun("tests-1", ["doubles", "wrong"]);
  judged(run);
  assert.equal(run.apply({ type: "test", executionId: EXEC, result: { name: "doubles", verdict: "accepted", timeMs: 20, memoryKb: 9000, score: 1 } }), true);
  const result = { id: EXEC, verdict: "wrong_answer", passed: 1, total: 2, score: 1, maxScore: 4,
    tests: [{ name: "doubles", verdict: "accepted", timeMs: 20, memoryKb: 9000, score: 1 },
      { name: "wrong", verdict: "wrong_answer", timeMs: 31, memoryKb: 9300, score: 0 }],
    groups: [], message: null, status: "completed", requestId: "tests-1" };
  run.apply({ type: "judgement", executionId: EXEC, result });
  assert.equal(run.active, true);
  run.apply({ type: "completion", executionId: EXEC, requestId: "tests-1", verdict: "ok" });
  assert.equal(run.active, false);
  assert.equal(run.summary(), "1 of 2 passed · score 1 / 4 · Wrong answer");
  assert.equal(run.tone(), "fail");
  assert.equal(run.verdictOf("doubles"), "accepted");
  assert.equal(run.compilerOutput(), null);
});

test("all passed reads so", () => {
  const run = new TestRun("tests-1", ["a"]);
  run.apply({ type: "status", status: "queued", executionId: EXEC, requestId: "tests-1" });
  run.apply({ type: "judgement", executionId: EXEC, result: { verdict: "accepted", passed: 1, total: 1, score: 1, maxScore: 1,
    tests: [{ name: "a", verdict: "accepted" }], message: null } });
  run.apply({ type: "completion", executionId: EXEC, verdict: "ok" });
  assert.equal(run.summary(), "1 of 1 passed · score 1 / 1 · All passed");
  assert.equal(run.tone(), "pass");
});

test("a compile error shows the compiler's output; every test is marked compile error", () => {
  const run = new TestRun("tests-1", ["a", "b"]);
  run.apply({ type: "status", status: "queued", executionId: EXEC, requestId: "tests-1" });
  const message = "main.c:2:5: error: expected ';'\n";
  run.apply({ type: "judgement", executionId: EXEC, result: { verdict: "compile_error", passed: 0, total: 2, score: 0, maxScore: 2,
    tests: [{ name: "a", verdict: "compile_error" }, { name: "b", verdict: "compile_error" }], message } });
  run.apply({ type: "completion", executionId: EXEC, verdict: "ok" });
  assert.equal(run.compilerOutput(), message);
  assert.equal(run.summary(), "Compile error: the compiler's messages are below; no test ran");
  assert.equal(verdictTone(run.verdictOf("b")), "fail");
});

test("events of other runs are not this run's: another request, another execution", () => {
  const run = new TestRun("tests-2", ["a"]);
  assert.equal(run.apply({ type: "status", status: "queued", executionId: "other", requestId: "run-1" }), false);
  assert.equal(run.apply({ type: "completion", executionId: "other", requestId: "run-1", verdict: "ok" }), false);
  run.apply({ type: "status", status: "queued", executionId: EXEC, requestId: "tests-2" });
  assert.equal(run.apply({ type: "test", executionId: "other", result: { name: "a", verdict: "accepted" } }), false);
  assert.equal(run.verdictOf("a"), "pending");
});

test("a refused frame fails the run with the platform's words", () => {
  const run = new TestRun("tests-1", ["a"]);
  assert.equal(run.apply({ type: "error", code: "invalid_request", message: "tests[0].name: too long", requestId: "tests-1" }), true);
  assert.equal(run.phase, "failed");
  assert.equal(run.summary(), "The platform refused the tests: tests[0].name: too long");
  assert.equal(run.verdictOf("a"), null);
});

test("Stop: a stopped judgement reads Stopped, never a verdict on the program", () => {
  const running = new TestRun("tests-1", ["a", "b"]);
  running.apply({ type: "status", status: "running", executionId: EXEC, requestId: "tests-1" });
  running.stopRequested = true;
  running.apply({ type: "test", executionId: EXEC, result: { name: "a", verdict: "accepted" } });
  running.apply({ type: "judgement", executionId: EXEC, result: { verdict: "internal_error", passed: 1, total: 2, score: 1,
    maxScore: 2, tests: [{ name: "a", verdict: "accepted" },
      { name: "b", verdict: "internal_error", checkerMessage: "the judgement was stopped" }],
    message: "the judgement was stopped" } });
  running.apply({ type: "completion", executionId: EXEC, verdict: "cancelled" });
  assert.equal(running.summary(), "Stopped · 1 of 2 passed before the stop");
  assert.equal(running.verdictOf("a"), "accepted");
  assert.equal(running.verdictOf("b"), "stopped");
  assert.equal(verdictTone("stopped"), "skip");

  const queued = new TestRun("tests-1", ["a"]);
  queued.apply({ type: "status", status: "queued", executionId: EXEC, requestId: "tests-1" });
  queued.apply({ type: "completion", executionId: EXEC, verdict: "cancelled" });
  assert.equal(queued.summary(), "Stopped before any test was judged.");
});

test("a dropped socket: a resumed session follows the run again, a new one loses it", () => {
  const resumed = new TestRun("tests-1", ["a"]);
  resumed.apply({ type: "status", status: "running", executionId: EXEC, requestId: "tests-1" });
  resumed.connectionLost();
  assert.equal(resumed.summary(), "Connection lost: reconnecting…");
  assert.equal(resumed.canStop, false);
  assert.equal(resumed.sessionStarted(true), true);
  assert.equal(resumed.phase, "running");

  const lost = new TestRun("tests-1", ["a"]);
  lost.apply({ type: "status", status: "queued", executionId: EXEC, requestId: "tests-1" });
  lost.connectionLost();
  assert.equal(lost.sessionStarted(false), false);
  assert.equal(lost.phase, "lost");
  assert.equal(lost.active, false);

  const unconfirmed = new TestRun("tests-1", ["a"]);
  unconfirmed.connectionLost();
  assert.equal(unconfirmed.phase, "lost");
});

// --- what a row shows ----------------------------------------------------------------------

test("a diff is split where the two sides start to differ", () => {
  assert.deepEqual(diffParts({ line: 2, column: 3, expected: "3 4\\n", got: "3 5\\n" }), {
    where: "line 2, column 3",
    expected: { same: "3 ", differs: "4\\n" },
    got: { same: "3 ", differs: "5\\n" },
  });
  // The output ended early: its side is what its last line held.
  assert.deepEqual(diffParts({ line: 3, column: 1, expected: "c", got: "" }).got, { same: "", differs: "" });
  assert.equal(diffParts(undefined), null);
});

test("a row's tone and usage", () => {
  assert.equal(verdictTone("accepted"), "pass");
  assert.equal(verdictTone("wrong_answer"), "fail");
  assert.equal(verdictTone("presentation_error"), "fail");
  assert.equal(verdictTone("skipped"), "skip");
  assert.equal(verdictTone("pending"), "pending");
  assert.equal(testUsage({ timeMs: 31.4, memoryKb: 9300 }), "31 ms · 9.1 MB");
  assert.equal(testUsage({ timeMs: 3, memoryKb: 800 }), "3 ms · 800 KB");
  assert.equal(testUsage({ timeMs: 0 }), "0 ms");
});
