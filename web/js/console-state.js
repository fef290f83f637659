// The console tabs' state, driven by the socket's events (docs/protocol.md). No DOM here
// (web/tests/console-state.test.js runs it under Node): the view asks what changed and draws.
// A tab belongs to a main file, as the platform keeps one sandbox per main file and session;
// a Run of that file reuses its tab.

import { AnsiParser } from "./ansi.js";

/** Words for the user, for each verdict (docs/protocol.md, Verdicts). */
const VERDICTS = {
  ok: "Finished",
  compile_error: "Compile error: the compiler's messages are above; the program did not run",
  runtime_error: "Runtime error",
  time_limit: "Time limit reached: the program was stopped",
  memory_limit: "Memory limit reached: the program was stopped",
  output_limit: "Output limit reached: the program was stopped",
  cancelled: "Stopped",
  expired: "Not run: it waited too long in the queue (the platform is busy; try again)",
  internal_error: "The platform failed to run it",
};

/** Words for the user, for each error code (docs/protocol.md, Error codes). */
export function explainError(code, message = "") {
  switch (code) {
    case "queue_full":
      return "The platform is busy: its queue is full. Wait a few seconds and run again.";
    case "not_ready":
      return "The platform is still starting. Try again in a moment.";
    case "unknown_language":
      return `This installation cannot run that language. ${message}`.trim();
    case "invalid_request":
      return `The platform refused the program: ${message}`;
    case "not_found":
      return "That program is no longer running, so it cannot take input or be stopped.";
    case "internal_error":
      return `The platform could not accept the program: ${message}`;
    default:
      return `${code}: ${message}`;
  }
}

export function describeVerdict(completion) {
  let text = VERDICTS[completion.verdict] ?? completion.verdict;
  if (completion.verdict === "runtime_error") {
    if (completion.signal) text += `: killed by ${completion.signal}`;
    else if (completion.exitCode !== undefined && completion.exitCode !== null) {
      text += `: exit code ${completion.exitCode}`;
    }
  }
  if (completion.verdict === "internal_error" && completion.message) text += `: ${completion.message}`;
  return text;
}

/** "12 ms wall · 8 ms CPU · 9.1 MB memory", for the measures the completion has. */
export function describeUsage(completion) {
  const parts = [];
  if (Number.isFinite(completion.wallMs)) parts.push(`${formatMs(completion.wallMs)} wall`);
  if (Number.isFinite(completion.cpuMs)) parts.push(`${formatMs(completion.cpuMs)} CPU`);
  if (Number.isFinite(completion.memoryKb)) parts.push(`${formatKb(completion.memoryKb)} memory`);
  return parts.join(" · ");
}

export function formatMs(ms) {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatKb(kb) {
  if (kb < 1024) return `${Math.round(kb)} KB`;
  return `${(kb / 1024).toFixed(1)} MB`;
}

/** How much of a run's output is kept as text to read diagnostics from (its first part). */
export const TRANSCRIPT_CHARS = 256 * 1024;
/** How much of a tab's output a reload brings back (its first part, then a note). */
export const LOG_CHARS = 256 * 1024;
const RELOADED_NOTE = "The page was reloaded: this run carries on here. "
  + "What it printed while the page was away may be missing.";
const ACTIVE = new Set(["sending", "queued", "running", "detached"]);
const RESUMED_NOTE = "Reconnected: the session was resumed and this run carries on here. "
  + "What it printed while the connection was down may be missing.";

export class Tab {
  constructor(mainFile) {
    this.mainFile = mainFile;
    this.requestId = null;
    this.executionId = null;
    /** idle | sending | queued | running | detached (socket down, waiting to reconnect) |
     * done | failed | lost */
    this.phase = "idle";
    /** The phase a ``detached`` run goes back to when a resumed session takes it over. */
    this.phaseBeforeDrop = null;
    /** The run was carried over a reconnect: its input is closed, its output has a gap. */
    this.resumed = false;
    this.summary = "";
    this.usage = "";
    this.verdict = null;
    /** The run was carried over a reload of the page (not only a dropped socket). */
    this.reloaded = false;
    this.parsers = { stdout: new AnsiParser(), stderr: new AnsiParser() };
    /** The run's output as plain text (both streams, ANSI removed), for its diagnostics. */
    this.transcript = "";
    /** The run was given its standard input with the request, which closed it. */
    this.inputGiven = false;
    /** What the tab shows (text, echo, table and notice changes), kept for a reload. */
    this.log = [];
    this.logChars = 0;
  }

  get active() { return ACTIVE.has(this.phase); }
  /** Input may be sent: the server holds it until the program runs. A run carried over a
   * reconnect has had its input closed by the platform. */
  get acceptsInput() {
    return this.executionId !== null && !this.resumed && !this.inputGiven
      && (this.phase === "queued" || this.phase === "running");
  }

  /** Stop can be sent now: the run has an execution and the socket is up. */
  get canStop() { return this.executionId !== null && (this.phase === "queued" || this.phase === "running"); }
}

/**
 * The tabs and the routing of events to them. Each method returns the changes for the view:
 * ``{tab, changes}`` where each change is one of
 *   {kind: "reset"}                                  a new run starts: clear the output
 *   {kind: "status"}                                 phase / summary / usage changed
 *   {kind: "text", stream, segments}                 output (ANSI parsed into styled segments)
 *   {kind: "echo", text}                             a line the user sent to stdin
 *   {kind: "table", columns, rows}                   an SQL result set
 *   {kind: "notice", level: "info"|"error", text}    a line from the IDE, not the program
 */
export class ConsoleState {
  constructor() {
    /** @type {Map<string, Tab>} main file → tab, in opening order */
    this.tabs = new Map();
    this.byRequest = new Map();
    this.byExecution = new Map();
    this.counter = 0;
  }

  tab(mainFile) { return this.tabs.get(mainFile); }

  /**
   * A Run of ``mainFile``: the tab (opened or reused), the requestId for the frame, and the
   * execution the tab still runs, which the caller should stop first. ``inputGiven``: the
   * request carries the program's whole standard input, so the live input line stays off.
   */
  start(mainFile, { inputGiven = false } = {}) {
    let tab = this.tabs.get(mainFile);
    if (!tab) {
      tab = new Tab(mainFile);
      this.tabs.set(mainFile, tab);
    }
    const previous = tab.active && tab.executionId ? tab.executionId : null;
    this.forget(tab);
    this.counter += 1;
    tab.requestId = `run-${this.counter}`;
    tab.executionId = null;
    tab.phase = "sending";
    tab.summary = "Sending…";
    tab.usage = "";
    tab.verdict = null;
    tab.phaseBeforeDrop = null;
    tab.resumed = false;
    tab.parsers = { stdout: new AnsiParser(), stderr: new AnsiParser() };
    tab.transcript = "";
    tab.inputGiven = inputGiven;
    tab.log = [];
    tab.logChars = 0;
    this.byRequest.set(tab.requestId, tab);
    return { tab, requestId: tab.requestId, stopFirst: previous,
      changes: [{ kind: "reset" }, { kind: "status" }] };
  }

  /** A tab is closed: its execution (if it still runs) is returned to be stopped. */
  close(mainFile) {
    const tab = this.tabs.get(mainFile);
    if (!tab) return null;
    const running = tab.active ? tab.executionId : null;
    this.forget(tab);
    this.tabs.delete(mainFile);
    return running;
  }

  /** Keep what ``changes`` draw in ``tab``, to draw it again after a reload. */
  remember(tab, changes) {
    for (const change of changes) {
      if (change.kind === "reset" || change.kind === "status") continue;
      if (tab.logChars >= LOG_CHARS) return;
      const size = JSON.stringify(change).length;
      if (tab.logChars + size > LOG_CHARS) {
        tab.log.push({ kind: "notice", level: "info",
          text: "(the rest of the output is not kept across a reload)" });
      } else {
        tab.log.push(change);
      }
      tab.logChars += size;
    }
  }

  /** The tabs as JSON-able data, for the page's next load (sessionStorage). */
  snapshot() {
    return [...this.tabs.values()].map((tab) => ({
      mainFile: tab.mainFile,
      executionId: tab.executionId,
      phase: tab.phase,
      phaseBeforeDrop: tab.phaseBeforeDrop,
      summary: tab.summary,
      usage: tab.usage,
      verdict: tab.verdict,
      inputGiven: tab.inputGiven,
      log: tab.log, // the transcript is made again from it: the storage quota holds one copy
    }));
  }

  /**
   * The tabs of a snapshot, as the page left them. A run that was going on waits for the
   * ``session`` frame like one a dropped socket left (``detached``): a resumed session hands
   * it over (its completion at once if it ended meanwhile), a new one loses it. A run not yet
   * confirmed has no execution to find again: lost.
   */
  restore(saved) {
    const results = [];
    for (const data of Array.isArray(saved) ? saved : []) {
      if (typeof data?.mainFile !== "string" || this.tabs.has(data.mainFile)) continue;
      const tab = new Tab(data.mainFile);
      this.tabs.set(tab.mainFile, tab);
      Object.assign(tab, {
        executionId: typeof data.executionId === "string" ? data.executionId : null,
        phase: typeof data.phase === "string" ? data.phase : "idle",
        summary: String(data.summary ?? ""),
        usage: String(data.usage ?? ""),
        verdict: typeof data.verdict === "string" ? data.verdict : null,
        inputGiven: data.inputGiven === true,
      });
      // Drawn again through the caller, which remembers it again (``remember``).
      const changes = [{ kind: "reset" }, ...(Array.isArray(data.log) ? data.log : [])];
      for (const change of changes) {
        if (change?.kind === "text" && Array.isArray(change.segments)) record(tab, change.segments);
      }
      if (tab.active) {
        if (tab.executionId === null) {
          results.push(this.lose(tab, "Lost: the page was reloaded before the platform confirmed this run",
            "The page was reloaded before the platform confirmed this run; run it again."));
          results.at(-1).changes.unshift(...changes);
          continue;
        }
        this.byExecution.set(tab.executionId, tab);
        tab.reloaded = true;
        tab.phaseBeforeDrop = tab.phase === "detached" ? data.phaseBeforeDrop ?? "running" : tab.phase;
        tab.phase = "detached";
        tab.summary = "Reconnecting…";
      }
      changes.push({ kind: "status" });
      results.push({ tab, changes });
    }
    return results;
  }

  /** The user sent a line (or end of input) to a tab's program. */
  input(tab, text) {
    return { tab, changes: [{ kind: "echo", text }] };
  }

  /** Route one event from the socket; null when it belongs to no tab (e.g. a stale one). */
  apply(event) {
    if (event.type === "error") return this.applyError(event);
    const tab = this.tabOf(event);
    if (!tab) return null;
    switch (event.type) {
      case "status": return this.applyStatus(tab, event);
      case "output": return this.applyOutput(tab, event);
      case "table":
        return { tab, changes: [{ kind: "table", columns: event.columns ?? [], rows: event.rows ?? [] }] };
      case "completion": return this.applyCompletion(tab, event);
      default: return null;
    }
  }

  /**
   * The socket dropped. The platform closes the input of what it ran and keeps the rest for a
   * socket that resumes the session: a run with an execution waits ("detached") for the next
   * ``session`` frame (see ``sessionStarted``). A run not yet confirmed has no execution to
   * take over, so it is lost.
   */
  connectionLost() {
    const results = [];
    for (const tab of this.tabs.values()) {
      if (!tab.active || tab.phase === "detached") continue;
      if (tab.executionId === null) {
        results.push(this.lose(tab, "Connection lost before the platform confirmed this run",
          "The connection to the platform dropped before the run was confirmed; it may not "
          + "have started. Run it again once reconnected."));
        continue;
      }
      const changes = this.flush(tab);
      tab.phaseBeforeDrop = tab.phase;
      tab.phase = "detached";
      tab.summary = "Connection lost: reconnecting…";
      changes.push({ kind: "status" }, { kind: "notice", level: "info",
        text: "The connection to the platform dropped; reconnecting. The program's input "
          + "was closed." });
      results.push({ tab, changes });
    }
    return results;
  }

  /**
   * A ``session`` frame opened the socket. When it resumed the session, the platform hands
   * the detached runs over to it (a completion at once for what ended meanwhile, later events
   * for what still runs, and ``stop`` works again); otherwise they are out of reach: lost.
   */
  sessionStarted(resumed) {
    const results = [];
    for (const tab of this.tabs.values()) {
      if (tab.phase !== "detached") continue;
      if (!resumed) {
        results.push(this.lose(tab, "Connection lost: this run's output can no longer be shown",
          "Reconnected, but to a new session: the old one could not be resumed, so this "
          + "run's output and Stop are out of reach. Run it again."));
        continue;
      }
      tab.phase = tab.phaseBeforeDrop ?? "running";
      tab.phaseBeforeDrop = null;
      tab.resumed = true;
      tab.summary = this.phaseSummary(tab);
      results.push({ tab, changes: [{ kind: "status" },
        { kind: "notice", level: "info", text: tab.reloaded ? RELOADED_NOTE : RESUMED_NOTE }] });
      tab.reloaded = false;
    }
    return results;
  }

  lose(tab, summary, text) {
    const changes = this.flush(tab);
    this.forget(tab);
    tab.phase = "lost";
    tab.phaseBeforeDrop = null;
    tab.summary = summary;
    changes.push({ kind: "status" }, { kind: "notice", level: "error", text });
    return { tab, changes };
  }

  phaseSummary(tab) {
    const words = tab.phase === "queued" ? "Queued" : "Running";
    return tab.resumed ? `${words} (reconnected)` : words;
  }

  /** The text the ANSI parsers still hold, as changes (before a gap or at the end). */
  flush(tab) {
    const changes = [];
    for (const stream of ["stdout", "stderr"]) {
      const segments = tab.parsers[stream].flush();
      record(tab, segments);
      if (segments.length) changes.push({ kind: "text", stream, segments });
    }
    return changes;
  }

  tabOf(event) {
    if (event.executionId && this.byExecution.has(event.executionId)) {
      return this.byExecution.get(event.executionId);
    }
    if (event.requestId && this.byRequest.has(event.requestId)) {
      const tab = this.byRequest.get(event.requestId);
      if (event.executionId && tab.executionId === null) {
        tab.executionId = event.executionId;
        this.byExecution.set(event.executionId, tab);
      }
      return tab;
    }
    return null;
  }

  applyStatus(tab, event) {
    if (event.status === "queued" || event.status === "running") {
      tab.phase = event.status;
      tab.summary = this.phaseSummary(tab);
    }
    return { tab, changes: [{ kind: "status" }] };
  }

  applyOutput(tab, event) {
    const stream = event.stream === "stderr" ? "stderr" : "stdout";
    const segments = tab.parsers[stream].feed(event.data ?? "");
    record(tab, segments);
    return { tab, changes: segments.length ? [{ kind: "text", stream, segments }] : [] };
  }

  applyCompletion(tab, event) {
    const changes = this.flush(tab);
    if (event.truncated) {
      changes.push({ kind: "notice", level: "error",
        text: "Output truncated: the program printed more than the output limit allows." });
    }
    this.forget(tab);
    tab.phase = "done";
    tab.verdict = event.verdict;
    tab.summary = describeVerdict(event);
    tab.usage = describeUsage(event);
    changes.push({ kind: "status" });
    return { tab, changes };
  }

  applyError(event) {
    const text = explainError(event.code, event.message);
    const tab = this.tabOf(event);
    if (!tab) return { tab: null, changes: [{ kind: "notice", level: "error", text }] };
    if (event.executionId && tab.executionId === event.executionId && event.code === "not_found") {
      // A run carried over a reconnect that the platform does not know: it did not take it
      // over (another edge, or the socket was down too long). Nothing more will come.
      if (tab.resumed && tab.active) {
        return this.lose(tab, "Connection lost: the platform no longer knows this run",
          "The platform did not hand this run over to the new connection (it was down for "
          + "more than ten minutes, or reached another server), so it can no longer be shown "
          + "or stopped from here.");
      }
      return { tab, changes: [{ kind: "notice", level: "error", text }] };
    }
    if (tab.requestId === event.requestId && tab.phase === "sending") {
      this.forget(tab);
      tab.phase = "failed";
      tab.summary = "Not run";
      return { tab, changes: [{ kind: "status" }, { kind: "notice", level: "error", text }] };
    }
    return { tab, changes: [{ kind: "notice", level: "error", text }] };
  }

  forget(tab) {
    if (tab.requestId) this.byRequest.delete(tab.requestId);
    if (tab.executionId) this.byExecution.delete(tab.executionId);
  }
}

function record(tab, segments) {
  for (const { text } of segments) {
    if (tab.transcript.length >= TRANSCRIPT_CHARS) return;
    tab.transcript += text.slice(0, TRANSCRIPT_CHARS - tab.transcript.length);
  }
}
