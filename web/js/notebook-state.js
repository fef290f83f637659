// Notebooks' live state, driven by the socket's notebook frames (/tmp/nb/protocol.md, described
// in docs/ide.md). No DOM here (web/tests/notebook-state.test.js feeds it frames under Node).
//
// Each method returns ``{changes, frames}``: what the view should redraw, and the frames to send.
// Changes are {kind: "kernel"} (the kernel's state), {kind: "cell", cellId} (a cell's prompt,
// status or buttons), {kind: "clear", cellId} (its outputs went), {kind: "output", cellId, output}
// (one more output), {kind: "structure"} (cells added, removed, moved or retyped),
// {kind: "notice", level, text} (a message about the notebook) and {kind: "dirty"} (the document
// changed: save it).
//
// Cells queue in the page and go to the platform one at a time, the next when the last one has
// completed: so a cell that fails, or an interrupt, drops the cells queued after it (as Jupyter
// does), and Run all runs in order even across a reconnect.

import { explainError, formatMs } from "./console-state.js";
import { kernelOf, newCell, notebookIdFor } from "./nbformat.js";

const ACTIVE = new Set(["pending", "sending", "queued", "running", "detached"]);
const KERNEL_DIED = new Set(["memory_limit", "internal_error"]);

/** Words for a cell's completion (the verdicts of /tmp/nb/protocol.md). */
const VERDICTS = {
  ok: "Done",
  runtime_error: "Error",
  cancelled: "Interrupted",
  time_limit: "Time limit reached: the cell was stopped",
  output_limit: "Output limit reached: the output was cut and the cell stopped",
  memory_limit: "Out of memory: the kernel died; the next cell starts a new one",
  internal_error: "The kernel died; the next cell starts a new one",
  expired: "Not run: it waited too long in the queue (the platform is busy)",
};

const KERNEL_LABELS = {
  offline: "Disconnected",
  opening: "Connecting…",
  idle: "Idle",
  busy: "Busy",
  interrupting: "Interrupting…",
  restarting: "Restarting…",
  dead: "Dead: the next cell starts a new kernel",
  closed: "Closed",
};

const none = () => ({ changes: [], frames: [] });
const merge = (...results) => ({
  changes: results.flatMap((r) => r.changes), frames: results.flatMap((r) => r.frames),
});

/** One code cell's run: the page's side of its latest execution. */
export class CellRun {
  constructor() {
    /** idle | pending (queued in the page) | sending | queued | running | detached (socket
     * down) | done | failed (refused) | lost */
    this.phase = "idle";
    this.requestId = null;
    this.executionId = null;
    this.code = "";
    this.verdict = null;
    this.summary = "";
    this.usage = "";
    this.resumed = false;
    this.phaseBeforeDrop = null;
    this.stopWanted = false;
  }

  get active() { return ACTIVE.has(this.phase); }
}

export class NotebookSession {
  /**
   * @param {{path: string, notebook: object, requestId: () => string, notebookId?: string}} options
   *   ``requestId`` makes the page's request ids (unique across notebooks and consoles).
   */
  constructor({ path, notebook, requestId, notebookId = notebookIdFor(path) }) {
    this.path = path;
    this.notebook = notebook;
    this.notebookId = notebookId;
    this.kernel = kernelOf(notebook);
    this.nextRequestId = requestId;
    /** @type {Map<string, CellRun>} cell id → its run */
    this.runs = new Map();
    this.queue = []; // cell ids waiting in the page, in run order
    this.inFlight = null; // the cell whose notebook_execute is out and not completed
    this.requests = new Map(); // requestId → {kind: open|interrupt|restart|close|execute, cellId}
    this.executions = new Map(); // executionId → cell id
    this.connected = false;
    /** idle | opening | interrupting | restarting | dead | closed: the last thing heard */
    this.kernelState = "idle";
    this.hadKernel = false; // a cell has run since the notebook was opened in this page
    this.everOpened = false; // notebook_open went out on some socket
  }

  // --- reading -------------------------------------------------------------------------------

  cell(cellId) { return this.notebook.cells.find((c) => c.id === cellId); }
  index(cellId) { return this.notebook.cells.findIndex((c) => c.id === cellId); }
  run(cellId) { return this.runs.get(cellId) ?? new CellRun(); }
  get busy() { return this.inFlight !== null || this.queue.length > 0; }

  /** offline | opening | idle | busy | interrupting | restarting | dead | closed */
  get kernelStatus() {
    if (!this.connected) return "offline";
    if (["interrupting", "restarting"].includes(this.kernelState)) return this.kernelState;
    return this.busy ? "busy" : this.kernelState;
  }

  get kernelLabel() { return KERNEL_LABELS[this.kernelStatus]; }

  /** The prompt beside a code cell: [*] while it runs or waits, [n] after, [ ] before. */
  prompt(cellId) {
    if (this.run(cellId).active) return "[*]";
    const count = this.cell(cellId)?.execution_count;
    return Number.isInteger(count) ? `[${count}]` : "[ ]";
  }

  // --- the user's actions ----------------------------------------------------------------------

  /** notebook_open, sent on every socket that the session starts (the kernel survives a drop). */
  open() {
    this.connected = true;
    this.everOpened = true;
    this.kernelState = "opening";
    return { changes: [{ kind: "kernel" }], frames: [this.request("open", { type: "notebook_open", kernel: this.kernel })] };
  }

  /** Queue code cells to run (in the order given); cells already queued or running stay. */
  runCells(cellIds) {
    const changes = [];
    for (const cellId of cellIds) {
      const cell = this.cell(cellId);
      if (cell?.cell_type !== "code" || this.run(cellId).active) continue;
      const run = new CellRun();
      run.phase = "pending";
      run.code = cell.source;
      run.summary = "Waiting";
      this.runs.set(cellId, run);
      cell.outputs = [];
      cell.execution_count = null;
      this.queue.push(cellId);
      changes.push({ kind: "clear", cellId }, { kind: "cell", cellId });
    }
    if (changes.length) changes.push({ kind: "dirty" }, { kind: "kernel" });
    return merge({ changes, frames: [] }, this.pump());
  }

  runAll() {
    return this.runCells(this.notebook.cells.filter((c) => c.cell_type === "code").map((c) => c.id));
  }

  /** Interrupt the kernel; the cells queued after the running one are not run. */
  interrupt() {
    const result = this.abortQueue("Not run: interrupted");
    const run = this.inFlight === null ? null : this.run(this.inFlight);
    if (run?.phase === "queued") result.frames.push({ type: "stop", executionId: run.executionId });
    else if (run?.phase === "sending") run.stopWanted = true;
    result.frames.push(this.request("interrupt", { type: "notebook_interrupt" }));
    this.kernelState = "interrupting";
    result.changes.push({ kind: "kernel" });
    return result;
  }

  restart() {
    const result = this.abortQueue("Not run: the kernel restarted");
    result.frames.push(this.request("restart", { type: "notebook_restart" }));
    this.kernelState = "restarting";
    result.changes.push({ kind: "kernel" });
    return result;
  }

  /** Stop one cell: out of the page's queue, or ``stop`` for its execution. */
  stopCell(cellId) {
    const run = this.run(cellId);
    if (run.phase === "pending") {
      this.queue = this.queue.filter((id) => id !== cellId);
      run.phase = "idle";
      run.summary = "Not run: stopped";
      return { changes: [{ kind: "cell", cellId }, { kind: "kernel" }], frames: [] };
    }
    if (this.inFlight !== cellId) return none();
    if (run.executionId && (run.phase === "queued" || run.phase === "running")) {
      return { changes: [], frames: [{ type: "stop", executionId: run.executionId }] };
    }
    run.stopWanted = true; // sent when its execution id comes
    return none();
  }

  /** notebook_close: the kernel goes (the file was deleted, renamed away or replaced). */
  close() {
    const result = this.abortQueue("Not run: the notebook was closed");
    if (this.connected) result.frames.push(this.request("close", { type: "notebook_close" }));
    this.kernelState = "closed";
    return result;
  }

  // --- editing the document ---------------------------------------------------------------------

  setSource(cellId, source) {
    const cell = this.cell(cellId);
    if (!cell || cell.source === source) return none();
    cell.source = source;
    return { changes: [{ kind: "dirty" }], frames: [] };
  }

  /** A new cell at ``index`` (the end when left out); returns it as ``cell`` too. */
  insertCell(type = "code", index = this.notebook.cells.length) {
    const cell = newCell(type);
    this.notebook.cells.splice(Math.max(0, Math.min(index, this.notebook.cells.length)), 0, cell);
    return { cell, changes: [{ kind: "structure" }, { kind: "dirty" }], frames: [] };
  }

  deleteCell(cellId) {
    const at = this.index(cellId);
    if (at === -1) return none();
    const stopped = this.stopCell(cellId);
    this.notebook.cells.splice(at, 1);
    return merge(stopped, { changes: [{ kind: "structure" }, { kind: "dirty" }], frames: [] });
  }

  moveCell(cellId, delta) {
    const at = this.index(cellId);
    const to = at + delta;
    if (at === -1 || to < 0 || to >= this.notebook.cells.length) return none();
    const [cell] = this.notebook.cells.splice(at, 1);
    this.notebook.cells.splice(to, 0, cell);
    return { changes: [{ kind: "structure" }, { kind: "dirty" }], frames: [] };
  }

  /** Make a cell code, markdown or raw; a cell that runs keeps its type. */
  setCellType(cellId, type) {
    const cell = this.cell(cellId);
    if (!cell || cell.cell_type === type || this.run(cellId).active) return none();
    cell.cell_type = type;
    if (type === "code") Object.assign(cell, { outputs: [], execution_count: null });
    else {
      delete cell.outputs;
      delete cell.execution_count;
      this.runs.delete(cellId);
    }
    return { changes: [{ kind: "structure" }, { kind: "dirty" }], frames: [] };
  }

  // --- the socket's frames ----------------------------------------------------------------------

  /** Does ``frame`` (one without a notebookId, such as an error) belong to this notebook? */
  owns(frame) {
    return (frame.requestId !== undefined && this.requests.has(frame.requestId))
      || (frame.executionId !== undefined && this.executions.has(frame.executionId));
  }

  /** One frame from the socket; null when it is not this notebook's or is stale. */
  apply(frame) {
    switch (frame.type) {
      case "notebook": return this.applyKernel(frame);
      case "status": return this.applyStatus(frame);
      case "notebook_output": return this.applyOutput(frame);
      case "completion": return this.applyCompletion(frame);
      case "error": return this.applyError(frame);
      default: return null;
    }
  }

  applyKernel(frame) {
    const request = this.takeRequest(frame.requestId);
    const result = { changes: [{ kind: "kernel" }], frames: [] };
    const say = (text, level = "info") => result.changes.push({ kind: "notice", level, text });
    switch (frame.state) {
      case "open":
        this.kernelState = "idle";
        break;
      case "interrupted":
        this.kernelState = "idle";
        say("Kernel interrupted.");
        break;
      case "restarted":
      case "none":
        this.kernelState = "idle";
        if (frame.state === "restarted" || request?.kind === "restart") {
          result.changes.push(...this.endInFlight("cancelled", "Cancelled: the kernel restarted").changes);
          say("Kernel restarted: its variables are gone.");
        }
        if (frame.state === "none" && frame.message) say(`No kernel answered: ${frame.message}`, "error");
        break;
      case "dead":
        this.kernelState = "dead";
        result.changes.push(...this.abortQueue("Not run: the kernel died").changes);
        say(`The kernel died${frame.message ? ` (${frame.message})` : ""}; the next cell starts a new one.`, "error");
        break;
      case "closed":
        this.kernelState = "closed";
        break;
      default:
        return null;
    }
    return result;
  }

  applyStatus(frame) {
    const cellId = this.cellOf(frame);
    if (cellId === null || (frame.status !== "queued" && frame.status !== "running")) return null;
    const run = this.run(cellId);
    run.phase = frame.status;
    run.summary = this.phaseSummary(run);
    const frames = [];
    if (run.stopWanted) {
      run.stopWanted = false;
      frames.push({ type: "stop", executionId: run.executionId });
    }
    if (frame.status === "running") {
      this.hadKernel = true;
      if (this.kernelState === "dead" || this.kernelState === "opening") this.kernelState = "idle";
    }
    return { changes: [{ kind: "cell", cellId }, { kind: "kernel" }], frames };
  }

  applyOutput(frame) {
    const cellId = this.cellOf(frame);
    const output = frame.output;
    if (cellId === null || !output || typeof output.output_type !== "string") return null;
    const cell = this.cell(cellId);
    if (!cell) return none(); // deleted while it ran
    cell.outputs.push(output);
    const changes = [{ kind: "output", cellId, output }, { kind: "dirty" }];
    if (cell.execution_count === null && Number.isInteger(output.execution_count)) {
      cell.execution_count = output.execution_count;
    }
    return { changes, frames: [] };
  }

  applyCompletion(frame) {
    const cellId = this.cellOf(frame);
    if (cellId === null) return null;
    const run = this.run(cellId);
    const cell = this.cell(cellId);
    this.forget(run);
    run.phase = "done";
    run.verdict = frame.verdict;
    run.summary = VERDICTS[frame.verdict] ?? frame.verdict;
    // A message says what else happened: a kernel that died, a restart, a close.
    if (frame.message && frame.verdict !== "ok") run.summary += ` (${frame.message})`;
    run.usage = Number.isFinite(frame.wallMs) ? formatMs(frame.wallMs) : "";
    const changes = [{ kind: "cell", cellId }];
    if (cell && Number.isInteger(frame.executionCount)) {
      cell.execution_count = frame.executionCount;
      changes.push({ kind: "dirty" });
    }
    if (KERNEL_DIED.has(frame.verdict)) this.kernelState = "dead";
    if (this.inFlight === cellId) this.inFlight = null;
    const result = { changes, frames: [] };
    if (frame.verdict !== "ok") {
      const why = frame.verdict === "cancelled" ? "interrupted" : "an earlier cell did not finish";
      result.changes.push(...this.abortQueue(`Not run: ${why}`).changes);
    }
    result.changes.push({ kind: "kernel" });
    return merge(result, this.pump());
  }

  applyError(frame) {
    const request = this.takeRequest(frame.requestId);
    const text = explainError(frame.code, frame.message);
    if (request?.kind === "execute" && this.run(request.cellId).phase === "sending") {
      const run = this.run(request.cellId);
      this.forget(run);
      run.phase = "failed";
      run.summary = `Not run: ${text}`;
      if (this.inFlight === request.cellId) this.inFlight = null;
      const result = this.abortQueue("Not run: an earlier cell was refused");
      result.changes.unshift({ kind: "cell", cellId: request.cellId });
      result.changes.push({ kind: "kernel" });
      return merge(result, this.pump());
    }
    const cellId = frame.executionId ? this.executions.get(frame.executionId) ?? null : null;
    const run = cellId === null ? null : this.run(cellId);
    if (run && frame.code === "not_found" && run.resumed && run.active) {
      // A cell carried over a reconnect that the platform did not hand over: nothing more comes.
      this.forget(run);
      run.phase = "lost";
      run.summary = "Connection lost: the platform no longer knows this cell's run";
      if (this.inFlight === cellId) this.inFlight = null;
      return merge({ changes: [{ kind: "cell", cellId }, { kind: "kernel" }], frames: [] }, this.pump());
    }
    if (request && ["opening", "interrupting", "restarting"].includes(this.kernelState)) this.kernelState = "idle";
    return { changes: [{ kind: "notice", level: "error", text }, { kind: "kernel" }], frames: [] };
  }

  // --- the connection ---------------------------------------------------------------------------

  /** The socket dropped: a cell with an execution waits for the session to resume it. */
  connectionLost() {
    this.connected = false;
    for (const [id, request] of this.requests) if (request.kind !== "execute") this.requests.delete(id);
    const result = { changes: [{ kind: "kernel" }], frames: [] };
    const run = this.inFlight === null ? null : this.run(this.inFlight);
    if (run?.executionId === null) {
      result.changes.push(...this.lose(this.inFlight, "Connection lost before the platform took this cell").changes);
      result.changes.push(...this.abortQueue("Not run: the connection dropped").changes);
    } else if (run && run.phase !== "detached") {
      run.phaseBeforeDrop = run.phase;
      run.phase = "detached";
      run.summary = "Connection lost: reconnecting…";
      result.changes.push({ kind: "cell", cellId: this.inFlight });
    }
    return result;
  }

  /**
   * A ``session`` frame: notebook_open again (the kernel lives on within the session). A resumed
   * session takes the running cell over; a new session has a new kernel, so what was under way
   * is lost and the queue dropped.
   */
  sessionStarted(resumed) {
    const result = { changes: [], frames: [] };
    const run = this.inFlight === null ? null : this.run(this.inFlight);
    if (!resumed && this.everOpened) {
      if (run) result.changes.push(...this.lose(this.inFlight, "Connection lost: this cell's run is out of reach").changes);
      result.changes.push(...this.abortQueue("Not run: the kernel was lost").changes);
      if (this.hadKernel) {
        result.changes.push({ kind: "notice", level: "error", text: "Reconnected to a new session: "
          + "this notebook's kernel and its variables are gone. Run the cells again." });
        this.hadKernel = false;
      }
    } else if (run?.phase === "detached") {
      run.phase = run.phaseBeforeDrop ?? "running";
      run.phaseBeforeDrop = null;
      run.resumed = true;
      run.summary = this.phaseSummary(run);
      result.changes.push({ kind: "cell", cellId: this.inFlight });
      // The same edge hands the cell over by itself; another edge (or a restarted one) needs
      // to be told which execution to follow. Either way it does no harm.
      result.frames.push({ type: "attach", executionId: run.executionId });
    }
    return merge(this.open(), result, this.pump());
  }

  // --- inside ------------------------------------------------------------------------------------

  /** Send the next queued cell when none is out. */
  pump() {
    if (this.inFlight !== null || !this.connected || this.queue.length === 0) return none();
    const cellId = this.queue.shift();
    const run = this.run(cellId);
    run.phase = "sending";
    run.summary = "Sending…";
    this.inFlight = cellId;
    const frame = this.request("execute", { type: "notebook_execute", cellId, code: run.code }, cellId);
    run.requestId = frame.requestId;
    return { changes: [{ kind: "cell", cellId }, { kind: "kernel" }], frames: [frame] };
  }

  request(kind, frame, cellId = null) {
    const requestId = this.nextRequestId();
    this.requests.set(requestId, { kind, cellId });
    return { ...frame, notebookId: this.notebookId, requestId };
  }

  takeRequest(requestId) {
    if (requestId === undefined || !this.requests.has(requestId)) return null;
    const request = this.requests.get(requestId);
    if (request.kind !== "execute") this.requests.delete(requestId);
    return request;
  }

  /** The cell an execution's frame is about; binds its executionId on the first one. */
  cellOf(frame) {
    if (frame.executionId && this.executions.has(frame.executionId)) return this.executions.get(frame.executionId);
    const request = frame.requestId !== undefined ? this.requests.get(frame.requestId) : undefined;
    let cellId = request?.kind === "execute" ? request.cellId : null;
    // Should a queued status come without its requestId, the cell that is out is it (never
    // for other frames: a replay after ``attach`` may bring a finished run's outputs again).
    if (cellId === null && frame.type === "status" && this.inFlight !== null
      && frame.cellId === this.inFlight && this.run(this.inFlight).executionId === null) cellId = this.inFlight;
    if (cellId === null || !frame.executionId) return null;
    const run = this.run(cellId);
    if (!run.active || run.executionId !== null) return null;
    run.executionId = frame.executionId;
    this.executions.set(frame.executionId, cellId);
    return cellId;
  }

  phaseSummary(run) {
    const words = run.phase === "queued" ? "Queued" : "Running";
    return run.resumed ? `${words} (reconnected)` : words;
  }

  forget(run) {
    if (run.requestId) this.requests.delete(run.requestId);
    if (run.executionId) this.executions.delete(run.executionId);
  }

  abortQueue(summary) {
    const changes = this.queue.map((cellId) => {
      const run = this.run(cellId);
      run.phase = "idle";
      run.summary = summary;
      return { kind: "cell", cellId };
    });
    this.queue = [];
    return { changes, frames: [] };
  }

  lose(cellId, summary) {
    const run = this.run(cellId);
    this.forget(run);
    run.phase = "lost";
    run.summary = summary;
    if (this.inFlight === cellId) this.inFlight = null;
    return { changes: [{ kind: "cell", cellId }], frames: [] };
  }

  endInFlight(verdict, summary) {
    if (this.inFlight === null) return none();
    const cellId = this.inFlight;
    const run = this.run(cellId);
    this.forget(run);
    run.phase = "done";
    run.verdict = verdict;
    run.summary = summary;
    this.inFlight = null;
    return { changes: [{ kind: "cell", cellId }], frames: [] };
  }
}
