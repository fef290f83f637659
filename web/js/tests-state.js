// The Tests panel's decisions (docs/ide.md, Tests): the project's test cases kept in the
// project file .coderunner/tests.json, the socket's `judge` frame that runs them all, and a
// judgement's events (docs/judging.md, The socket) turned into what the panel shows. No DOM
// here (web/tests/tests-panel.test.js runs it under Node); js/tests-panel.js draws it.

import { ProjectError } from "./project.js";

/** A project file, so the tests live where the files live: the browser's copy and the workspace. */
export const TESTS_PATH = ".coderunner/tests.json";

/** The checkers the panel offers (docs/judging.md, Checkers); the first is the default. */
export const CHECKERS = Object.freeze([
  { type: "lines", label: "Lines (trailing spaces ignored)" },
  { type: "exact", label: "Exact" },
  { type: "tokens", label: "Tokens (any whitespace)" },
]);

/** The judging API's bounds (contracts/judging.py), checked before anything is sent. */
export const TEST_LIMITS = Object.freeze({
  tests: 1000,
  nameChars: 64,
  points: 1_000_000,
  textBytes: 1_048_576,
  allTextBytes: 4 * 1_048_576,
  fileChars: 1_048_576,
});

const PENDING = "pending";

/** Words for each test verdict, and whether it counts as passed. */
const VERDICTS = {
  accepted: "Passed",
  partial: "Partly passed",
  wrong_answer: "Wrong answer",
  presentation_error: "Presentation error (same words, other spacing or lines)",
  time_limit: "Time limit",
  memory_limit: "Memory limit",
  runtime_error: "Runtime error",
  output_limit: "Output limit",
  compile_error: "Compile error",
  internal_error: "Not judged: the platform or the checker failed",
  skipped: "Skipped",
  stopped: "Stopped",
};

/** A verdict in words ("Wrong answer"), for a test or the whole judgement. */
export function verdictWords(verdict) {
  return VERDICTS[verdict] ?? verdict;
}

/** "pass", "fail", "skip" or "pending": the colour and mark a test's row takes. */
export function verdictTone(verdict) {
  if (verdict === PENDING || verdict === undefined || verdict === null) return "pending";
  if (verdict === "accepted") return "pass";
  if (verdict === "skipped" || verdict === "stopped") return "skip";
  return "fail";
}

/** A suite as the file holds it: the checker and the tests, as a `judge` frame takes them. */
export function emptySuite() {
  return { checker: CHECKERS[0].type, tests: [] };
}

const bytes = (text) => new TextEncoder().encode(text).length;
const isText = (value) => typeof value === "string";

/**
 * The suite in ``text`` (the file's content; undefined when there is no file):
 * ``{suite, problem}``, where ``problem`` says in words why the file could not be read (the
 * suite is then empty, and the panel refuses to write over the file).
 */
export function readTests(text) {
  if (text === undefined || text.trim() === "") return { suite: emptySuite(), problem: null };
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { suite: emptySuite(), problem: `${TESTS_PATH} is not valid JSON (${error.message}).` };
  }
  if (!data || typeof data !== "object" || !Array.isArray(data.tests)) {
    return { suite: emptySuite(), problem: `${TESTS_PATH} has no "tests" list.` };
  }
  const type = typeof data.checker === "object" ? data.checker?.type : data.checker;
  const checker = CHECKERS.some((c) => c.type === type) ? type : CHECKERS[0].type;
  const tests = [];
  for (const [k, test] of data.tests.entries()) {
    if (!test || typeof test !== "object" || !isText(test.name) || !isText(test.expectedOutput)) {
      return { suite: emptySuite(), problem: `Test ${k + 1} of ${TESTS_PATH} needs a "name" and an "expectedOutput".` };
    }
    const entry = { name: test.name, stdin: isText(test.stdin) ? test.stdin : "", expectedOutput: test.expectedOutput };
    if (Number.isInteger(test.points)) entry.points = test.points;
    tests.push(entry);
  }
  return { suite: { checker, tests }, problem: null };
}

/**
 * Put ``text`` into the project's tests file, making it when there is none (the main and the
 * open file stay as they were: a new file would become both). Returns true when it was made.
 * Throws the project's ProjectError when the project refuses it.
 */
export function storeTests(project, text) {
  if (text.length > TEST_LIMITS.fileChars) {
    throw new ProjectError(`The tests take more than 1 MiB, the most a project file holds; `
      + "shorten some inputs or expected outputs.");
  }
  if (project.files.has(TESTS_PATH)) {
    project.setContent(TESTS_PATH, text);
    return false;
  }
  const { main, open } = project;
  project.createFile(TESTS_PATH, text);
  project.main = main;
  project.open = open;
  return true;
}

/** The file's content for ``suite``: the judging API's own field names, one test a line group. */
export function writeTests(suite) {
  const tests = suite.tests.map((t) => {
    const entry = { name: t.name, stdin: t.stdin, expectedOutput: t.expectedOutput };
    if (Number.isInteger(t.points)) entry.points = t.points;
    return entry;
  });
  return `${JSON.stringify({ checker: { type: suite.checker }, tests }, null, 2)}\n`;
}

/** A name no test has yet: "test 1", "test 2", … */
export function newTestName(tests) {
  const taken = new Set(tests.map((t) => t.name));
  for (let n = tests.length + 1; ; n += 1) {
    if (!taken.has(`test ${n}`)) return `test ${n}`;
  }
}

/**
 * Points typed in the panel: null for none (the API's default, 1), a whole number, or
 * undefined when the text is not one the API takes.
 */
export function parsePoints(text) {
  const trimmed = String(text).trim();
  if (trimmed === "") return null;
  if (!/^\d+$/.test(trimmed)) return undefined;
  const points = Number(trimmed);
  return points <= TEST_LIMITS.points ? points : undefined;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069\ufeff]/;

/** Why ``suite`` cannot be judged (or stored), in words, or null. Mirrors contracts/judging.py. */
export function suiteProblem(suite) {
  if (suite.tests.length === 0) return "Add a test first.";
  if (suite.tests.length > TEST_LIMITS.tests) return `A run takes at most ${TEST_LIMITS.tests} tests.`;
  const seen = new Set();
  let total = 0;
  for (const [k, test] of suite.tests.entries()) {
    const which = test.name ? `Test "${test.name}"` : `Test ${k + 1}`;
    if (test.name.trim() === "") return `Test ${k + 1} needs a name.`;
    if (test.name.length > TEST_LIMITS.nameChars) return `${which}: a name is at most ${TEST_LIMITS.nameChars} characters.`;
    if (CONTROL.test(test.name)) return `${which}: a name cannot hold control characters.`;
    if (seen.has(test.name)) return `Two tests are named "${test.name}": names must differ.`;
    seen.add(test.name);
    if (test.points !== undefined && test.points !== null
        && !(Number.isInteger(test.points) && test.points >= 0 && test.points <= TEST_LIMITS.points)) {
      return `${which}: points are a whole number from 0 to ${TEST_LIMITS.points}.`;
    }
    const size = bytes(test.stdin) + bytes(test.expectedOutput);
    if (bytes(test.stdin) > TEST_LIMITS.textBytes || bytes(test.expectedOutput) > TEST_LIMITS.textBytes) {
      return `${which}: its input and its expected output are at most 1 MiB each.`;
    }
    total += size;
  }
  if (total > TEST_LIMITS.allTextBytes) return "The tests' inputs and expected outputs add up to more than 4 MiB.";
  return null;
}

/**
 * The ``judge`` frame that runs every test of ``suite`` against ``run`` (the main file's
 * run request, project.js runRequest): its language, its files but the tests file (the
 * program has no business reading the answers), and its main file. A judgement takes no
 * ``stdin``: each test brings its own.
 */
export function judgeFrame(suite, run, requestId) {
  return {
    type: "judge",
    requestId,
    language: run.language,
    files: run.files.filter((f) => f.name !== TESTS_PATH),
    mainFile: run.mainFile,
    tests: suite.tests.map((t) => {
      const test = { name: t.name, stdin: t.stdin, expectedOutput: t.expectedOutput };
      if (Number.isInteger(t.points)) test.points = t.points;
      return test;
    }),
    checker: { type: suite.checker },
  };
}

/** "12 ms · 9.1 MB" for a test's result. */
export function testUsage(result) {
  const parts = [];
  if (Number.isFinite(result.timeMs)) parts.push(`${Math.round(result.timeMs)} ms`);
  if (Number.isFinite(result.memoryKb) && result.memoryKb > 0) {
    parts.push(result.memoryKb < 1024 ? `${Math.round(result.memoryKb)} KB` : `${(result.memoryKb / 1024).toFixed(1)} MB`);
  }
  return parts.join(" · ");
}

/**
 * A diff (docs/judging.md, The diff) as the panel draws it: where, and each side split where
 * it starts to differ (the excerpts share the text before the difference), so the differing
 * part can be marked. Null when the result has none.
 */
export function diffParts(diff) {
  if (!diff) return null;
  const { expected = "", got = "" } = diff;
  let same = 0;
  while (same < expected.length && same < got.length && expected[same] === got[same]) same += 1;
  return {
    where: `line ${diff.line}, column ${diff.column}`,
    expected: { same: expected.slice(0, same), differs: expected.slice(same) },
    got: { same: got.slice(0, same), differs: got.slice(same) },
  };
}

/**
 * One run of the tests, driven by the socket's events. ``phase``: sending, queued, running,
 * detached (the socket dropped; waiting for the session to be resumed), done, failed (refused
 * before it ran), lost. ``results``: name → the test's result as it came.
 */
export class TestRun {
  constructor(requestId, names) {
    this.requestId = requestId;
    this.executionId = null;
    this.names = names;
    this.phase = "sending";
    this.phaseBeforeDrop = null;
    /** @type {Map<string, object>} */
    this.results = new Map();
    this.judgement = null;
    this.problem = null;
    this.stopRequested = false;
  }

  get active() { return ["sending", "queued", "running", "detached"].includes(this.phase); }
  get canStop() { return this.executionId !== null && (this.phase === "queued" || this.phase === "running"); }

  /** Whether ``event`` is this run's; if so it is applied. */
  apply(event) {
    if (!this.owns(event)) return false;
    switch (event.type) {
      case "status":
        if (this.executionId === null && event.executionId) this.executionId = event.executionId;
        if (event.status === "queued" || event.status === "running") this.phase = event.status;
        break;
      case "test":
        if (event.result?.name) this.results.set(event.result.name, event.result);
        break;
      case "judgement":
        this.judgement = event.result;
        for (const test of event.result?.tests ?? []) this.results.set(test.name, this.stopped(test));
        break;
      case "completion":
        this.phase = "done";
        if (this.judgement === null) {
          this.problem = event.verdict === "cancelled" ? "Stopped before any test was judged."
            : `The tests were not judged: ${event.message ?? event.verdict}.`;
        }
        break;
      case "error":
        if (this.phase === "sending") {
          this.phase = "failed";
          this.problem = `The platform refused the tests: ${event.message ?? event.code}`;
        }
        break;
      default:
        break;
    }
    return true;
  }

  /** After a Stop, a test the stop cut short is "stopped" (the platform says internal_error). */
  stopped(test) {
    if (!this.stopRequested || test.verdict !== "internal_error") return test;
    return { ...test, verdict: "stopped", checkerMessage: "" };
  }

  owns(event) {
    if (event.executionId && this.executionId !== null) return event.executionId === this.executionId;
    return event.requestId === this.requestId;
  }

  /** The socket dropped: a run with an execution waits for the session to be resumed. */
  connectionLost() {
    if (!this.active || this.phase === "detached") return;
    if (this.executionId === null) {
      this.lose("The connection dropped before the platform took the tests; run them again.");
      return;
    }
    this.phaseBeforeDrop = this.phase;
    this.phase = "detached";
  }

  /** A ``session`` frame: true when the caller should ``attach`` again to the execution. */
  sessionStarted(resumed) {
    if (this.phase !== "detached") return false;
    if (!resumed) {
      this.lose("Reconnected to a new session: these results can no longer come; run the tests again.");
      return false;
    }
    this.phase = this.phaseBeforeDrop ?? "running";
    this.phaseBeforeDrop = null;
    return true;
  }

  lose(problem) {
    this.phase = "lost";
    this.problem = problem;
  }

  /** The verdict the panel shows for test ``name``: its result's, or "pending" while it runs. */
  verdictOf(name) {
    const result = this.results.get(name);
    if (result) return result.verdict;
    return this.names.includes(name) && this.active ? PENDING : null;
  }

  /** The line above the tests: what the run is doing, or its verdict and score. */
  summary() {
    switch (this.phase) {
      case "sending": return "Sending…";
      case "queued": return "Queued";
      case "running": return `Running: ${this.results.size} of ${this.names.length} judged`;
      case "detached": return "Connection lost: reconnecting…";
      case "failed": case "lost": return this.problem;
      default: break;
    }
    const j = this.judgement;
    if (!j) return this.problem ?? "Done";
    if (this.stopRequested && j.verdict === "internal_error") return `Stopped · ${j.passed} of ${j.total} passed before the stop`;
    if (j.verdict === "compile_error") return "Compile error: the compiler's messages are below; no test ran";
    if (j.verdict === "internal_error" && j.tests.length === 0) return `Not judged: ${j.message ?? "the platform failed"}`;
    const score = j.maxScore > 0 ? ` · score ${formatScore(j.score)} / ${formatScore(j.maxScore)}` : "";
    const verdict = j.verdict === "accepted" ? "All passed" : verdictWords(j.verdict);
    return `${j.passed} of ${j.total} passed${score} · ${verdict}`;
  }

  /** The compiler's output to show (on a compile error), else null. */
  compilerOutput() {
    return this.judgement?.verdict === "compile_error" ? this.judgement.message ?? "" : null;
  }

  /** "pass", "fail" or null (not finished): the tone of the summary. */
  tone() {
    if (this.phase === "failed" || this.phase === "lost") return "fail";
    if (this.phase !== "done" || !this.judgement) return null;
    return this.judgement.verdict === "accepted" ? "pass" : "fail";
  }
}

const formatScore = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
