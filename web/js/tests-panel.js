// The Tests panel's DOM (docs/ide.md, Tests): under the consoles, a disclosure that takes
// their place when open. Test cases to add, edit and remove (name, input, expected output,
// points), a checker choice, Run all tests (Stop while they run) that sends one `judge` frame,
// and each test's verdict as its `test` event comes, with the checker's message and the diff.
// The decisions are in tests-state.js; this module draws them and forwards the user's actions.

import { AnsiParser, cssOf } from "./ansi.js";
import { linkLocations } from "./consoleview.js";
import { findLocations } from "./diagnostics.js";
import { ProjectError } from "./project.js";
import {
  CHECKERS, TESTS_PATH, TestRun, diffParts, judgeFrame, newTestName, parsePoints, readTests,
  suiteProblem, testUsage, verdictTone, verdictWords, writeTests,
} from "./tests-state.js";

const $ = (id) => document.getElementById(id);
const MARKS = { pass: "✓", fail: "✗", skip: "–", pending: "…" };

export class TestsPanel {
  /**
   * @param {{read(): string | undefined, write(text: string): void, runRequest(): object,
   *   send(frame: object): boolean, paths(): Set<string>, compiled(text: string | null): void,
   *   reveal(file: string, line: number, column: number | null): void}} actions
   *   ``read``/``write``: the tests file's content (undefined when there is none); ``write``
   *   may throw a ProjectError. ``runRequest``: the main file's run request (project.js), or
   *   throws a ProjectError. ``compiled``: a compile error's output (null: none) for the editor.
   */
  constructor(actions) {
    this.actions = actions;
    this.box = $("tests-box");
    this.box.querySelector(".tests-body").innerHTML = `
      <div class="tests-bar">
        <button type="button" class="primary tests-run">Run all tests</button>
        <label class="small">Compare <select class="tests-checker"></select></label>
        <button type="button" class="tests-add">+ Test</button>
        <span class="tests-status" role="status"></span>
      </div>
      <p class="tests-problem error small" role="alert" hidden></p>
      <pre class="tests-compile output" tabindex="0" aria-label="The compiler's output" hidden></pre>
      <ol class="tests-list" aria-label="Tests"></ol>
      <p class="tests-empty muted small">No tests yet. "+ Test" adds one: the input given to the
        main file and the output it should print. Run all tests runs them all at once.</p>`;
    const q = (selector) => this.box.querySelector(selector);
    this.el = {
      count: $("tests-count"), brief: $("tests-brief"), run: q(".tests-run"), checker: q(".tests-checker"),
      add: q(".tests-add"), status: q(".tests-status"), problem: q(".tests-problem"),
      compile: q(".tests-compile"), list: q(".tests-list"), empty: q(".tests-empty"),
    };
    this.el.checker.replaceChildren(...CHECKERS.map((c) => new Option(c.label, c.type)));
    this.el.checker.addEventListener("change", (e) => this.edit(() => { this.suite.checker = e.target.value; }));
    this.el.add.addEventListener("click", () => this.addTest());
    this.el.run.addEventListener("click", () => (this.run?.active ? this.stop() : this.runAll()));
    this.el.compile.addEventListener("click", (e) => {
      const link = e.target.closest?.("a.location");
      if (!link) return;
      e.preventDefault();
      const { file, line, column } = link.dataset;
      this.actions.reveal(file, Number(line), column ? Number(column) : null);
    });
    /** The file's text as last read or written: a change made elsewhere differs from it. */
    this.text = null;
    this.suite = null;
    this.unreadable = null;
    /** @type {TestRun | null} */
    this.run = null;
    this.counter = 0;
    this.expanded = new Set();
    this.sync();
  }

  /** Read the tests file again if it changed elsewhere (the editor, the workspace, a template). */
  sync() {
    const text = this.actions.read();
    if (text === this.text && this.suite !== null) return;
    const { suite, problem } = readTests(text);
    // A finished run's results were for the tests as they were (a template replaced them, say).
    if (this.suite !== null && this.run && !this.run.active) this.dropRun();
    this.text = text;
    this.suite = suite;
    this.unreadable = problem;
    this.expanded.clear();
    this.drawList();
  }

  /** Change the suite, then store it in the project file. */
  edit(change) {
    if (this.unreadable) return false;
    change();
    const text = writeTests(this.suite);
    const before = this.text;
    this.text = text; // first: writing redraws the page, which syncs this panel (unchanged)
    try {
      this.actions.write(text);
    } catch (error) {
      if (!(error instanceof ProjectError)) throw error;
      this.text = before;
      this.suite = null; // what the file holds is the truth: read it again
      this.sync();
      this.say(error.message);
      return false;
    }
    this.say(null);
    this.drawHead();
    return true;
  }

  addTest() {
    const name = newTestName(this.suite.tests);
    if (!this.edit(() => this.suite.tests.push({ name, stdin: "", expectedOutput: "" }))) return;
    this.expanded.add(this.suite.tests.length - 1);
    this.drawList();
    this.el.list.lastElementChild?.querySelector("input.test-name")?.focus();
  }

  removeTest(index) {
    const next = new Set([...this.expanded].filter((k) => k !== index).map((k) => (k > index ? k - 1 : k)));
    if (!this.edit(() => this.suite.tests.splice(index, 1))) return;
    this.expanded = next;
    this.drawList();
    const rows = this.el.list.children;
    (rows[Math.min(index, rows.length - 1)]?.querySelector(".test-toggle") ?? this.el.add).focus();
  }

  runAll() {
    if (this.unreadable) return;
    const problem = suiteProblem(this.suite);
    if (problem) {
      this.say(problem);
      return;
    }
    let request;
    try {
      request = this.actions.runRequest();
    } catch (error) {
      if (!(error instanceof ProjectError)) throw error;
      this.say(error.message);
      return;
    }
    this.counter += 1;
    const frame = judgeFrame(this.suite, request, `tests-${this.counter}`);
    if (!this.actions.send(frame)) return;
    this.run = new TestRun(frame.requestId, frame.tests.map((t) => t.name));
    this.actions.compiled(null);
    this.say(null);
    this.drawRun();
  }

  stop() {
    if (!this.run?.canStop) return;
    if (this.actions.send({ type: "stop", executionId: this.run.executionId })) this.run.stopRequested = true;
    this.drawHead();
  }

  /** A socket event: true when it was this panel's run's (and was drawn). */
  apply(event) {
    if (!this.run?.apply(event)) return false;
    if (event.type === "judgement") this.actions.compiled(this.run.compilerOutput());
    this.drawRun();
    return true;
  }

  connectionLost() {
    if (!this.run) return;
    this.run.connectionLost();
    this.drawRun();
  }

  /** A ``session`` frame: a resumed session follows the run again (``attach``). */
  sessionStarted(resumed) {
    if (!this.run) return;
    if (this.run.sessionStarted(resumed)) this.actions.send({ type: "attach", executionId: this.run.executionId });
    this.drawRun();
  }

  dropRun() {
    this.run = null;
    this.actions.compiled(null);
  }

  say(problem) {
    this.el.problem.textContent = problem ?? "";
    this.el.problem.hidden = !problem;
  }

  // --- drawing ---------------------------------------------------------------------------------

  /** The bar and the summary line: Run or Stop, the checker, the run's state. */
  drawHead() {
    const run = this.run;
    const n = this.suite.tests.length;
    const state = run ? run.summary() : "";
    this.el.count.textContent = `Tests (${n})`;
    this.el.brief.textContent = state ? `: ${state}` : "";
    this.el.status.textContent = state;
    this.el.status.dataset.tone = run?.tone() ?? "";
    const stopping = run?.active === true;
    this.el.run.textContent = stopping ? "Stop" : "Run all tests";
    this.el.run.classList.toggle("primary", !stopping);
    this.el.run.classList.toggle("stopping", stopping);
    this.el.run.disabled = stopping ? !run.canStop : this.unreadable !== null || n === 0;
    this.el.checker.value = this.suite.checker;
    this.el.checker.disabled = this.unreadable !== null;
    this.el.add.disabled = this.unreadable !== null;
    this.el.empty.hidden = n > 0 || this.unreadable !== null;
    if (this.unreadable) this.say(`${this.unreadable} Fix it in the editor, or delete it to start anew.`);
  }

  /** Every test's row, made anew (the fields too): after an add, a remove or a sync. */
  drawList() {
    this.el.list.replaceChildren(...this.suite.tests.map((test, index) => this.row(test, index)));
    this.drawRun();
  }

  /** What the run says, on the rows as they are (their fields untouched). */
  drawRun() {
    this.drawHead();
    [...this.el.list.children].forEach((row, index) => this.drawResult(row, this.suite.tests[index]));
    const output = this.run?.compilerOutput() ?? null;
    this.el.compile.hidden = output === null;
    if (output !== null && this.el.compile.dataset.request !== this.run.requestId) {
      this.el.compile.dataset.request = this.run.requestId;
      drawCompilerOutput(this.el.compile, output, this.actions.paths());
    }
  }

  row(test, index) {
    const row = document.createElement("li");
    row.className = "test-case";
    const label = `test ${index + 1}`;
    row.innerHTML = `
      <div class="test-head">
        <span class="test-mark" aria-hidden="true"></span>
        <button type="button" class="test-toggle"></button>
        <span class="test-verdict"></span>
        <span class="test-usage muted small"></span>
        <span class="spacer"></span>
        <button type="button" class="test-remove small">Remove</button>
      </div>
      <div class="test-result"></div>
      <div class="test-fields">
        <label class="small">Name <input class="test-name" autocomplete="off" spellcheck="false" maxlength="64"></label>
        <label class="small">Points <input class="test-points" inputmode="numeric" autocomplete="off" placeholder="1"></label>
        <label class="small test-text">Input <textarea class="test-stdin" rows="3" spellcheck="false"></textarea></label>
        <label class="small test-text">Expected output <textarea class="test-expected" rows="3" spellcheck="false"></textarea></label>
      </div>`;
    const q = (selector) => row.querySelector(selector);
    const fields = q(".test-fields");
    const toggle = q(".test-toggle");
    const open = this.expanded.has(index);
    fields.hidden = !open;
    fields.id = `test-fields-${index}`;
    toggle.setAttribute("aria-controls", fields.id);
    toggle.setAttribute("aria-expanded", String(open));
    toggle.title = "Show or hide this test's input and expected output";
    toggle.addEventListener("click", () => {
      const show = fields.hidden;
      fields.hidden = !show;
      toggle.setAttribute("aria-expanded", String(show));
      if (show) this.expanded.add(index);
      else this.expanded.delete(index);
    });
    q(".test-remove").setAttribute("aria-label", `Remove ${label}`);
    q(".test-remove").addEventListener("click", () => this.removeTest(index));
    const name = q(".test-name");
    const points = q(".test-points");
    const stdin = q(".test-stdin");
    const expected = q(".test-expected");
    name.setAttribute("aria-label", `Name of ${label}`);
    points.setAttribute("aria-label", `Points of ${label} (empty: 1)`);
    stdin.setAttribute("aria-label", `Input of ${label}`);
    expected.setAttribute("aria-label", `Expected output of ${label}`);
    name.value = test.name;
    points.value = Number.isInteger(test.points) ? String(test.points) : "";
    stdin.value = test.stdin;
    expected.value = test.expectedOutput;
    const typed = (change) => () => {
      this.edit(change);
      this.drawResult(row, this.suite.tests[index]);
    };
    name.addEventListener("input", typed(() => { this.suite.tests[index].name = name.value; }));
    stdin.addEventListener("input", typed(() => { this.suite.tests[index].stdin = stdin.value; }));
    expected.addEventListener("input", typed(() => { this.suite.tests[index].expectedOutput = expected.value; }));
    points.addEventListener("input", () => {
      const value = parsePoints(points.value);
      points.setAttribute("aria-invalid", String(value === undefined));
      if (value === undefined) return; // kept as it was until the text is a number again
      this.edit(() => {
        if (value === null) delete this.suite.tests[index].points;
        else this.suite.tests[index].points = value;
      });
    });
    return row;
  }

  /** One row's verdict, time and memory, checker message and diff. */
  drawResult(row, test) {
    const q = (selector) => row.querySelector(selector);
    const verdict = this.run?.verdictOf(test.name) ?? null;
    const result = this.run?.results.get(test.name) ?? null;
    const tone = verdict === null ? "none" : verdictTone(verdict);
    row.dataset.name = test.name;
    row.dataset.tone = tone;
    row.dataset.verdict = verdict ?? "";
    q(".test-toggle").textContent = test.name || "(no name)";
    q(".test-mark").textContent = MARKS[tone] ?? "";
    q(".test-verdict").textContent = verdict === null ? "" : verdict === "pending" ? "Waiting" : verdictWords(verdict);
    q(".test-usage").textContent = result && verdict !== "skipped" && verdict !== "compile_error" ? testUsage(result) : "";
    const box = q(".test-result");
    box.replaceChildren();
    if (!result || tone === "pass") return;
    if (result.checkerMessage) {
      const message = document.createElement("p");
      message.className = "test-message";
      message.textContent = result.checkerMessage;
      box.append(message);
    }
    const parts = diffParts(result.diff);
    if (parts) box.append(drawDiff(parts));
  }
}

/** A diff as two labelled lines, the differing part of each marked. */
function drawDiff(parts) {
  const figure = document.createElement("figure");
  figure.className = "test-diff";
  const caption = document.createElement("figcaption");
  caption.className = "small muted";
  caption.textContent = `First difference at ${parts.where}`;
  figure.append(caption);
  for (const [label, side] of [["Expected", parts.expected], ["Got", parts.got]]) {
    const line = document.createElement("div");
    line.className = `diff-line diff-${label.toLowerCase()}`;
    const name = document.createElement("span");
    name.className = "diff-label";
    name.textContent = label;
    const code = document.createElement("code");
    code.append(side.same);
    const mark = document.createElement(label === "Expected" ? "del" : "ins");
    mark.textContent = side.differs;
    if (side.differs === "") mark.dataset.empty = "(ends here)";
    code.append(mark);
    line.append(name, code);
    figure.append(line);
  }
  return figure;
}

/** The compiler's messages, as a console shows them: ANSI styles, stderr's colour, links. */
function drawCompilerOutput(pre, text, paths) {
  const parser = new AnsiParser();
  pre.replaceChildren();
  for (const segment of [...parser.feed(text), ...parser.flush()]) {
    const { classes, css } = cssOf(segment.style);
    const span = document.createElement("span");
    span.className = ["stderr", ...classes].join(" ");
    Object.assign(span.style, css);
    span.textContent = segment.text;
    pre.append(span);
  }
  for (const span of [...pre.children]) {
    const node = span.firstChild;
    if (!node) continue;
    const locations = findLocations(node.data, paths);
    if (!locations.length) continue;
    linkLocations(node, locations);
  }
}

export { TESTS_PATH };
