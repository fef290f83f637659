// Compiler and runtime diagnostics read from a run's output, as the editor's markers and the
// console's clickable locations. No DOM here (web/tests/diagnostics.test.js runs it under Node,
// on real output of every language, taken from the platform).
//
// Paths in the output are the sandbox's: relative to the workspace (`main.c`, `./main.go`) or
// absolute under it (`/workspace/main.py`). A path that is not one of the project's files (the
// platform's own frames such as /opt/coderunner/zygote.py, Node's internals, `<frozen runpy>`)
// is ignored.

export const WORKSPACE = "/workspace/";
const PATH = String.raw`[^\s:"'()<>\[\]]+`;

/**
 * @typedef {{file: string, line: number, column: number | null, severity: "error" | "warning",
 *   message: string}} Diagnostic
 *   ``column`` is 1-based, or null when the output names only the line.
 * @typedef {{start: number, end: number, file: string, line: number, column: number | null}} Location
 *   A place in the text (``start``/``end`` are offsets) that names a project file's line.
 */

/** The project file that ``raw`` (a path as the output prints it) names, or null. */
export function resolvePath(raw, files) {
  let path = raw;
  if (path.startsWith(WORKSPACE)) path = path.slice(WORKSPACE.length);
  else if (path.startsWith("/")) return null; // outside the workspace: the platform's, a library's
  while (path.startsWith("./")) path = path.slice(2);
  if (files.has(path)) return path;
  // Java's stack traces name only the source file's base name (Main.java for pkg/Main.java).
  if (path.includes("/")) return null;
  const matches = [...files].filter((f) => f.endsWith(`/${path}`));
  return matches.length === 1 ? matches[0] : null;
}

// One line each, tried in order; the first that matches a line decides it.
const LINE_RULES = [
  // tsc: main.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.
  {
    re: new RegExp(String.raw`^(${PATH})\((\d+),(\d+)\): (error|warning) (TS\d+: .*)$`),
    read: (m) => ({ path: m[1], line: m[2], column: m[3], severity: m[4], message: m[5] }),
  },
  // gcc, g++, clang, go: main.c:5:12: error: 'missing' undeclared; ./main.go:7:14: undefined: y
  {
    re: new RegExp(String.raw`^(${PATH}):(\d+):(\d+): (?:(fatal error|error|warning|note|remark): ?)?(.*)$`),
    // No severity word: Go's errors; GCC's context lines ("   required from here") are notes.
    read: (m) => ({ path: m[1], line: m[2], column: m[3], message: m[5],
      severity: m[4] ?? (/^\s/.test(m[5]) ? "note" : "error") }),
  },
  // ruby: main.rb:3:in `f': undefined local variable or method `x' for main:Object (NameError)
  {
    re: new RegExp(String.raw`^(${PATH}):(\d+):in [\`'][^']*': (.*)$`),
    read: (m) => ({ path: m[1], line: m[2], severity: "error", message: m[3] }),
  },
  // lua: lua5.4: main.lua:3: attempt to index a nil value (local 't')
  {
    re: new RegExp(String.raw`^lua[\d.]*: (${PATH}):(\d+): (.*)$`),
    read: (m) => ({ path: m[1], line: m[2], severity: "error", message: m[3] }),
  },
  // javac, ruby's syntax errors and warnings, Python's warnings:
  // Main.java:3: error: incompatible types; main.rb:2: syntax error, …; main.py:3: UserWarning: x
  {
    re: new RegExp(String.raw`^(${PATH}):(\d+): (?:(error|warning): )?(.*)$`),
    read: (m) => ({
      path: m[1], line: m[2], message: m[4],
      severity: m[3] ?? (/^(warning|\w*Warning\b)/.test(m[4]) ? "warning" : "error"),
      caret: true,
    }),
  },
  // bash: main.sh: line 2: not_a_command_xyz: command not found
  {
    re: new RegExp(String.raw`^(${PATH}): line (\d+): (.*)$`),
    // After a syntax error bash prints the line itself (main.sh: line 2: `if then'): no news.
    read: (m) => (/^`.*'$/.test(m[3]) ? null
      : { path: m[1], line: m[2], severity: "error", message: m[3] }),
  },
  // php: PHP Parse error:  syntax error, … in /workspace/main.php on line 3
  //      PHP Fatal error:  Uncaught Error: Call to … on null in /workspace/main.php:4
  {
    re: new RegExp(String.raw`^(?:PHP )?(Fatal error|Parse error|Warning|Notice|Deprecated):\s+(.*?) in (${PATH})(?::(\d+)| on line (\d+))$`),
    read: (m) => ({
      path: m[3], line: m[4] ?? m[5], message: m[2],
      severity: /error/.test(m[1]) ? "error" : "warning",
    }),
  },
  // perl: something broke at main.pl line 4.   syntax error at main.pl line 2, near "= ;"
  {
    re: new RegExp(String.raw`^(.*) at (${PATH}) line (\d+)(, near .*?|, <\w+> line \d+)?\.?$`),
    read: (m) => ({
      path: m[2], line: m[3], message: `${m[1]}${m[4] ?? ""}`,
      severity: PERL_WARNING.test(m[1]) ? "warning" : "error",
    }),
  },
];

/** Perl's common warnings (`use warnings`); anything else it prints with a location is fatal. */
const PERL_WARNING = /^(Use of uninitialized value|Useless use|Name ".*" used only once|Scalar value|Possible |Found = in conditional|"my" variable .* masks|Argument ".*" isn't numeric|Odd number of elements)/;

const RUST_HEAD = /^(error|warning)(\[E\d+\])?: (.*)$/;
const RUST_WHERE = new RegExp(String.raw`^\s*--> (${PATH}):(\d+):(\d+)$`);
const PY_TRACEBACK = /^Traceback \(most recent call last\):$/;
const PY_FRAME = /^ {2}File "([^"]+)", line (\d+)/;
// Node names an ES module (TypeScript, .mjs) by its URL: file:///workspace/main.ts:3.
const NODE_HEAD = new RegExp(String.raw`^(?:file://)?(${PATH}):(\d+)$`);
const STACK_FRAME = new RegExp(String.raw`^\s+at (?:.* \()?(${PATH}):(\d+)(?::(\d+))?\)?$`);
const JAVA_FRAME = /^\s+at ([\w$.]+)\.[\w$<>]+\(([\w$]+\.java):(\d+)\)$/;
const JAVA_EXCEPTION = /^Exception in thread "[^"]*" (.*)$/;
const GO_PANIC = /^panic: (.*)$/;
const GO_FRAME = new RegExp(String.raw`^\s+(${PATH}):(\d+)(?: \+0x[0-9a-f]+)?$`);
const ERROR_LINE = /^([\w$.]*(?:Error|Exception|Interrupt|Exit)\b.*|[A-Z]\w*: .*)$/;

/**
 * The diagnostics in ``text`` (a run's stderr and stdout) that name one of ``files`` (a Set of
 * project paths), in the order they appear, each at most once.
 * @returns {Diagnostic[]}
 */
export function parseDiagnostics(text, files) {
  const lines = text.split(/\r?\n/);
  const found = [];
  const seen = new Set();
  const add = (raw) => {
    const file = resolvePath(raw.path, files);
    if (file === null || raw.severity === "note" || raw.severity === "remark") return;
    const diagnostic = {
      file, line: Number(raw.line), column: raw.column ? Number(raw.column) : null,
      severity: raw.severity === "fatal error" ? "error" : raw.severity,
      message: raw.message.trim(),
    };
    const key = `${file}:${diagnostic.line}:${diagnostic.column}:${diagnostic.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push(diagnostic);
  };
  for (let k = 0; k < lines.length; k += 1) {
    const skip = readBlock(lines, k, add, files);
    if (skip > 0) {
      k += skip - 1;
      continue;
    }
    for (const rule of LINE_RULES) {
      const m = rule.re.exec(lines[k]);
      if (!m) continue;
      const raw = rule.read(m);
      if (raw === null) break;
      if (raw.caret && !raw.column) raw.column = caretColumn(lines, k + 1);
      add(raw);
      break;
    }
  }
  return found;
}

/**
 * The diagnostics that span several lines (a traceback, rustc's header and arrow, Node's
 * uncaught error, a Go panic, a Java exception), starting at ``lines[k]``: reports them through
 * ``add`` and returns how many lines they took, or 0 when none starts there.
 */
function readBlock(lines, k, add, files) {
  const line = lines[k];
  let m = RUST_HEAD.exec(line);
  if (m) {
    const where = RUST_WHERE.exec(lines[k + 1] ?? "");
    if (!where) return 0;
    add({ path: where[1], line: where[2], column: where[3], severity: m[1], message: m[3] });
    return 2;
  }
  if (PY_TRACEBACK.test(line)) return pythonTraceback(lines, k, add, files);
  m = NODE_HEAD.exec(line);
  if (m && resolvePath(m[1], files) !== null) return nodeError(lines, k, m, add);
  m = GO_PANIC.exec(line);
  if (m) return firstUserFrame(lines, k + 1, GO_FRAME, m[1], add, files);
  m = JAVA_EXCEPTION.exec(line);
  if (m) return javaException(lines, k, m[1], add, files);
  return 0;
}

/** The last frame in a project file, with the exception line (`ZeroDivisionError: …`). */
function pythonTraceback(lines, k, add, files) {
  let last = null;
  let n = k + 1;
  for (; n < lines.length; n += 1) {
    const frame = PY_FRAME.exec(lines[n]);
    if (frame) {
      if (resolvePath(frame[1], files) !== null) last = { path: frame[1], line: frame[2] };
      continue;
    }
    if (!lines[n].startsWith(" ")) break; // the exception line ends the traceback
  }
  const message = lines[n] ?? "";
  if (last) add({ ...last, severity: "error", message: message || "Traceback" });
  return n - k + 1;
}

/** `/workspace/main.js:3`, the source line, a caret, a blank line, then `ReferenceError: …`. */
function nodeError(lines, k, head, add) {
  const column = caretColumn(lines, k + 1);
  let message = "";
  let n = k + 1;
  for (; n < Math.min(lines.length, k + 8); n += 1) {
    if (ERROR_LINE.test(lines[n]) && !/^\s/.test(lines[n])) {
      message = lines[n];
      break;
    }
  }
  if (!message) return 0;
  add({ path: head[1], line: head[2], column, severity: "error", message });
  return n - k + 1;
}

/** A Java exception: the message, then the first frame (the deepest) in a project file. */
function javaException(lines, k, message, add, files) {
  let n = k + 1;
  for (; n < lines.length && /^\s+(at |\.\.\.|Caused by)/.test(lines[n]); n += 1) {
    const frame = JAVA_FRAME.exec(lines[n]);
    if (!frame) continue;
    // pkg.Main.main(Main.java:4): the class's package is the source file's folder.
    const folder = frame[1].split(".").slice(0, -1).join("/");
    const path = folder ? `${folder}/${frame[2]}` : frame[2];
    const file = resolvePath(path, files) ?? resolvePath(frame[2], files);
    if (file === null) continue;
    add({ path: file, line: frame[3], severity: "error", message });
    break;
  }
  return Math.max(1, n - k);
}

/** The first frame matching ``re`` that is in a project file, with ``message``. */
function firstUserFrame(lines, from, re, message, add, files) {
  for (let n = from; n < Math.min(lines.length, from + 200); n += 1) {
    const frame = re.exec(lines[n]);
    if (frame && resolvePath(frame[1], files) !== null) {
      add({ path: frame[1], line: frame[2], column: frame[3], severity: "error", message });
      return n - from + 2;
    }
  }
  return 1;
}

/** The column of a lone caret line (`    ^~~~`) printed under a source line, or null. */
function caretColumn(lines, k) {
  const caret = /^(\s*)\^[~^]*\s*$/.exec(lines[k + 1] ?? "") ?? /^(\s*)\^[~^]*\s*$/.exec(lines[k] ?? "");
  return caret ? caret[1].replace(/\t/g, " ").length + 1 : null;
}

// Any place in the text that names a file's line, for the console's links.
const LOCATION_RULES = [
  new RegExp(String.raw`File "([^"]+)", line (\d+)()`, "g"), // Python
  new RegExp(String.raw`(${PATH})\((\d+),(\d+)\)`, "g"), // tsc
  new RegExp(String.raw`(?:file://)?(${PATH}):(\d+)(?::(\d+))?`, "g"), // most: file:line[:col]
  new RegExp(String.raw`(${PATH}):? line (\d+)()`, "g"), // perl "at main.pl line 4", bash
  new RegExp(String.raw`(${PATH}) on line (\d+)()`, "g"), // php
];

/**
 * Where ``text`` names a line of one of ``files``, for links: sorted, never overlapping.
 * @returns {Location[]}
 */
export function findLocations(text, files) {
  const found = [];
  for (const rule of LOCATION_RULES) {
    rule.lastIndex = 0;
    for (const m of text.matchAll(rule)) {
      const file = resolvePath(m[1], files);
      if (file === null) continue;
      found.push({ start: m.index, end: m.index + m[0].length, file, line: Number(m[2]),
        column: m[3] ? Number(m[3]) : null });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept = [];
  for (const location of found) {
    if (kept.length && location.start < kept.at(-1).end) continue;
    kept.push(location);
  }
  return kept;
}

/**
 * Diagnostics as Monaco's marker data: ``severities`` is ``monaco.MarkerSeverity``; ``model``
 * tells where a line's text starts and ends and where the word at a column ends (a model's own methods).
 */
export function toMarkers(diagnostics, severities, { lineStart, lineEnd, wordEnd }) {
  return diagnostics.map((d) => {
    const end = lineEnd(d.line);
    // The word at the column, or the whole line when the output names no column.
    const startColumn = d.column === null ? lineStart(d.line) : Math.min(d.column, end);
    const endColumn = d.column === null ? end : Math.max(wordEnd(d.line, startColumn), startColumn + 1);
    return {
      severity: d.severity === "warning" ? severities.Warning : severities.Error,
      message: d.message,
      source: "run",
      startLineNumber: d.line,
      startColumn,
      endLineNumber: d.line,
      endColumn,
    };
  });
}
