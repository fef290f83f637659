// A notebook's DOM: its toolbar (Run all, Interrupt, Restart kernel, add cells, Save, Download,
// the kernel's state), and per cell a Monaco editor, a prompt [n], a Run button, buttons to move
// and delete it, and its outputs. The state lives in notebook-state.js; this module draws its
// changes and hands the user's actions to it, passing what they return to ``act``.

import { parseMarkdown } from "./markdown.js";
import { appendOutput, el, renderMarkdown } from "./outputview.js";

const MAX_EDITOR_PX = 2000;
const TYPES = [["code", "Code"], ["markdown", "Markdown"], ["raw", "Raw"]];

function button(text, className, onClick, label = "") {
  const b = el("button", className, text);
  b.type = "button";
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

export class NotebookView {
  /**
   * @param {{monaco: any, session: import("./notebook-state.js").NotebookSession,
   *   parent: HTMLElement, act(result: {changes: object[], frames: object[]}): void,
   *   save(): void, download(): void}} options
   */
  constructor({ monaco, session, parent, act, save, download }) {
    this.monaco = monaco;
    this.session = session;
    this.act = act;
    /** @type {Map<string, object>} cell id → its elements, editor and output parsers */
    this.views = new Map();
    this.activeId = null;
    this.root = el("div", "notebook");
    this.root.dataset.path = session.path;
    this.buildToolbar(save, download);
    this.message = el("p", "nb-message");
    this.message.setAttribute("role", "status");
    this.list = el("ol", "cells");
    this.list.setAttribute("aria-label", "Cells");
    const end = el("div", "nb-end");
    end.append(
      button("+ Code cell", "add-code-end", () => this.addCell("code", this.session.notebook.cells.length)),
      button("+ Markdown cell", "add-markdown-end", () => this.addCell("markdown", this.session.notebook.cells.length)),
    );
    this.root.append(this.toolbar, this.message, this.list, end);
    this.root.addEventListener("focusin", (e) => {
      const li = e.target.closest?.(".cell");
      if (li) this.activate(li.dataset.cellId);
    });
    parent.append(this.root);
    this.syncStructure();
    this.drawKernel();
  }

  buildToolbar(save, download) {
    this.toolbar = el("div", "nb-toolbar");
    this.toolbar.setAttribute("role", "group");
    this.toolbar.setAttribute("aria-label", "Notebook");
    this.runAllButton = button("▶▶ Run all", "run-all", () => this.act(this.session.runAll()));
    this.interruptButton = button("■ Interrupt", "interrupt", () => this.act(this.session.interrupt()));
    this.restartButton = button("↻ Restart kernel", "restart", () => this.act(this.session.restart()));
    this.runAllButton.setAttribute("aria-label", "Run all");
    this.interruptButton.setAttribute("aria-label", "Interrupt");
    this.restartButton.setAttribute("aria-label", "Restart kernel");
    this.kernel = el("span", "kernel");
    this.kernel.setAttribute("role", "status");
    this.toolbar.append(
      this.runAllButton, this.interruptButton, this.restartButton,
      button("+ Code", "add-code", () => this.addCell("code"), "Add a code cell"),
      button("+ Markdown", "add-markdown", () => this.addCell("markdown"), "Add a markdown cell"),
      button("Save", "save", save, "Save the notebook"),
      button("Download .ipynb", "download", download),
      this.kernel,
    );
  }

  // --- the state's changes -----------------------------------------------------------------------

  update(changes) {
    for (const change of changes) {
      switch (change.kind) {
        case "kernel": this.drawKernel(); break;
        case "cell": this.drawCell(change.cellId); break;
        case "clear": this.clearOutputs(change.cellId); break;
        case "output": this.appendOutput(change.cellId, change.output); break;
        case "structure": this.syncStructure(); break;
        case "notice": this.say(change.text, change.level); break;
        default: break;
      }
    }
  }

  say(text, level = "info") {
    this.message.textContent = text;
    this.message.dataset.level = level;
  }

  drawKernel() {
    const s = this.session;
    const status = s.kernelStatus;
    this.kernel.dataset.state = status;
    this.kernel.textContent = `Kernel (${s.kernel}): ${s.kernelLabel}`;
    this.interruptButton.disabled = !s.connected || !s.busy;
    this.restartButton.disabled = !s.connected;
  }

  drawCell(cellId) {
    const view = this.views.get(cellId);
    const cell = this.session.cell(cellId);
    if (!view || !cell) return;
    const run = this.session.run(cellId);
    view.li.dataset.phase = run.phase;
    view.li.dataset.verdict = run.verdict ?? "";
    if (cell.cell_type === "code") {
      view.prompt.textContent = this.session.prompt(cellId);
      view.status.textContent = run.summary;
      view.usage.textContent = run.usage;
      view.type.disabled = run.active;
    }
    this.labelRunButton(view, cell);
  }

  labelRunButton(view, cell) {
    const n = this.session.index(cell.id) + 1;
    if (cell.cell_type === "code") {
      const active = this.session.run(cell.id).active;
      view.run.textContent = active ? "■ Stop" : "▶ Run";
      view.run.setAttribute("aria-label", `${active ? "Stop" : "Run"} cell ${n}`);
      view.run.title = active ? "Stop this cell" : "Run this cell (Ctrl+Enter; Shift+Enter runs it and moves on)";
    } else if (cell.cell_type === "markdown") {
      view.run.textContent = view.editing ? "✓ Done" : "✎ Edit";
      view.run.setAttribute("aria-label", `${view.editing ? "Show" : "Edit"} cell ${n}`);
      view.run.title = view.editing ? "Show it rendered (Shift+Enter)" : "Edit (Enter on the text, or double-click)";
    }
    view.run.hidden = cell.cell_type === "raw";
  }

  // --- cells ---------------------------------------------------------------------------------------

  /** Make the list match the notebook's cells: new ones built, gone ones disposed, order kept. */
  syncStructure() {
    const cells = this.session.notebook.cells;
    const ids = new Set(cells.map((c) => c.id));
    for (const [cellId, view] of this.views) {
      const cell = this.session.cell(cellId);
      if (!ids.has(cellId) || view.kind !== cell.cell_type) this.disposeCell(cellId); // retyped: built anew
    }
    cells.forEach((cell, k) => {
      const view = this.views.get(cell.id) ?? this.buildCell(cell);
      if (this.list.children[k] !== view.li) this.list.insertBefore(view.li, this.list.children[k] ?? null);
    });
    cells.forEach((cell, k) => this.label(cell, k + 1, cells.length));
  }

  label(cell, n, total) {
    const view = this.views.get(cell.id);
    const kind = TYPES.find(([t]) => t === cell.cell_type)?.[1] ?? cell.cell_type;
    view.li.setAttribute("aria-label", `Cell ${n} of ${total}, ${kind.toLowerCase()}`);
    view.type.setAttribute("aria-label", `Type of cell ${n}`);
    view.up.setAttribute("aria-label", `Move cell ${n} up`);
    view.down.setAttribute("aria-label", `Move cell ${n} down`);
    view.remove.setAttribute("aria-label", `Delete cell ${n}`);
    view.up.disabled = n === 1;
    view.down.disabled = n === total;
    view.outputs.setAttribute("aria-label", `Output of cell ${n}`);
    view.editor?.updateOptions({ ariaLabel: `Cell ${n}: ${kind.toLowerCase()}` });
    this.labelRunButton(view, cell);
  }

  buildCell(cell) {
    const li = el("li", `cell ${cell.cell_type}`);
    li.dataset.cellId = cell.id;
    const view = {
      li, kind: cell.cell_type, editing: false, editor: null, parsers: {},
      prompt: el("div", "cell-prompt"),
      status: el("span", "cell-status"),
      usage: el("span", "cell-usage muted"),
      editorBox: el("div", "cell-editor"),
      rendered: el("div", "markdown-view"),
      outputs: el("div", "cell-outputs"),
    };
    view.status.setAttribute("role", "status");
    view.run = button("", "run", () => this.runCell(cell.id));
    view.type = el("select", "cell-type");
    for (const [value, text] of TYPES) view.type.append(new Option(text, value, false, value === cell.cell_type));
    view.type.addEventListener("change", () => {
      this.act(this.session.setCellType(cell.id, view.type.value));
      this.focusCell(cell.id);
    });
    view.up = button("↑", "up", () => this.move(cell.id, -1));
    view.down = button("↓", "down", () => this.move(cell.id, 1));
    view.remove = button("✕", "delete", () => this.deleteCell(cell.id));
    const bar = el("div", "cell-bar");
    bar.append(view.run, view.type, view.status, view.usage, el("span", "spacer"), view.up, view.down, view.remove);
    const body = el("div", "cell-body");
    body.append(bar, view.editorBox);
    if (cell.cell_type === "markdown") {
      view.rendered.tabIndex = 0;
      view.rendered.setAttribute("role", "document");
      view.rendered.addEventListener("dblclick", () => this.editMarkdown(cell.id));
      view.rendered.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey) {
          e.preventDefault();
          this.editMarkdown(cell.id);
        }
      });
      body.append(view.rendered);
    }
    if (cell.cell_type === "code") body.append(view.outputs);
    li.append(view.prompt, body);
    this.views.set(cell.id, view);
    if (cell.cell_type === "markdown") {
      // A new, empty markdown cell opens for writing; one with text shows rendered.
      if (cell.source === "") this.editMarkdown(cell.id, false);
      else this.showMarkdown(cell.id);
    } else {
      view.editor = this.createEditor(cell, view.editorBox);
    }
    if (cell.cell_type === "code") for (const output of cell.outputs ?? []) this.appendOutput(cell.id, output);
    this.drawCell(cell.id);
    return view;
  }

  createEditor(cell, box) {
    const { monaco } = this;
    const language = cell.cell_type === "markdown" ? "markdown"
      : cell.cell_type === "raw" ? "plaintext" : this.session.kernel === "bash" ? "shell" : "python";
    const editor = monaco.editor.create(box, {
      value: cell.source,
      language,
      automaticLayout: true,
      minimap: { enabled: false },
      scrollBeyondLastLine: false,
      lineNumbers: "off",
      glyphMargin: false,
      folding: false,
      lineDecorationsWidth: 8,
      lineNumbersMinChars: 0,
      renderLineHighlight: "none",
      overviewRulerLanes: 0,
      hideCursorInOverviewRuler: true,
      wordWrap: cell.cell_type === "code" ? "off" : "on",
      scrollbar: { vertical: "hidden", alwaysConsumeMouseWheel: false, horizontalScrollbarSize: 8 },
      fixedOverflowWidgets: true,
      fontSize: 14,
      tabSize: 4,
      padding: { top: 4, bottom: 4 },
    });
    const fit = () => {
      const height = Math.min(MAX_EDITOR_PX, Math.max(editor.getContentHeight(), 24));
      box.style.height = `${height}px`;
      editor.layout({ width: box.clientWidth, height });
    };
    editor.onDidContentSizeChange(fit);
    fit();
    editor.onDidChangeModelContent(() => this.act(this.session.setSource(cell.id, editor.getValue())));
    return editor;
  }

  disposeCell(cellId) {
    const view = this.views.get(cellId);
    if (!view) return;
    view.editor?.getModel()?.dispose();
    view.editor?.dispose();
    view.li.remove();
    this.views.delete(cellId);
  }

  dispose() {
    for (const cellId of [...this.views.keys()]) this.disposeCell(cellId);
    this.root.remove();
  }

  // --- the user's actions ------------------------------------------------------------------------------

  activate(cellId) {
    if (this.activeId === cellId) return;
    this.views.get(this.activeId)?.li.classList.remove("active");
    this.activeId = cellId;
    this.views.get(cellId)?.li.classList.add("active");
  }

  /** Run a code cell (or stop it if it runs); show a markdown cell rendered, or edit it. */
  runCell(cellId) {
    const cell = this.session.cell(cellId);
    if (!cell) return;
    if (cell.cell_type === "code") {
      const run = this.session.run(cellId);
      this.act(run.active ? this.session.stopCell(cellId) : this.session.runCells([cellId]));
    } else if (cell.cell_type === "markdown") {
      const view = this.views.get(cellId);
      if (view.editing) this.showMarkdown(cellId);
      else this.editMarkdown(cellId);
    }
  }

  /** Shift+Enter: run (or render) the cell, then go to the next one, making one at the end. */
  runAndAdvance(cellId) {
    const cell = this.session.cell(cellId);
    if (!cell) return;
    if (cell.cell_type === "code") {
      if (!this.session.run(cellId).active) this.act(this.session.runCells([cellId]));
    } else if (cell.cell_type === "markdown") {
      this.showMarkdown(cellId);
    }
    const next = this.session.notebook.cells[this.session.index(cellId) + 1];
    if (next) this.focusCell(next.id);
    else this.addCell("code", this.session.notebook.cells.length);
  }

  /** Keys in a cell: Shift+Enter runs and moves on, Ctrl/Cmd+Enter runs. True when handled. */
  onKey(e) {
    const li = e.target.closest?.(".cell");
    if (e.key !== "Enter" || e.altKey || !li || !this.root.contains(li)) return false;
    if (e.shiftKey && !e.ctrlKey && !e.metaKey) {
      this.runAndAdvance(li.dataset.cellId);
      return true;
    }
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey) {
      const cell = this.session.cell(li.dataset.cellId);
      if (cell?.cell_type === "markdown") this.showMarkdown(cell.id);
      else if (cell?.cell_type === "code" && !this.session.run(cell.id).active) this.runCell(cell.id);
      return true;
    }
    return false;
  }

  /** Add a cell below the active one (or at ``index``) and put the cursor in it. */
  addCell(type, index = null) {
    const at = index ?? (this.activeId === null ? this.session.notebook.cells.length
      : this.session.index(this.activeId) + 1);
    const result = this.session.insertCell(type, at);
    this.act(result);
    this.focusCell(result.cell.id);
  }

  move(cellId, delta) {
    this.act(this.session.moveCell(cellId, delta));
    const view = this.views.get(cellId);
    // Keep the keyboard on the same button, unless it just became disabled at an end.
    const same = delta < 0 ? view.up : view.down;
    (same.disabled ? (delta < 0 ? view.down : view.up) : same).focus();
  }

  deleteCell(cellId) {
    const at = this.session.index(cellId);
    this.act(this.session.deleteCell(cellId));
    const cells = this.session.notebook.cells;
    const next = cells[Math.min(at, cells.length - 1)];
    if (next) this.views.get(next.id).remove.focus();
    else this.root.querySelector(".add-code-end").focus();
  }

  focusCell(cellId) {
    const view = this.views.get(cellId);
    if (!view) return;
    this.activate(cellId);
    if (view.editor && !(this.session.cell(cellId)?.cell_type === "markdown" && !view.editing)) {
      view.editor.focus();
      view.li.scrollIntoView({ block: "nearest" });
    } else {
      view.rendered.focus();
    }
  }

  /** The first cell's editor (or rendered text), for "Skip to the editor" and new notebooks. */
  focus() {
    const first = this.session.notebook.cells[0];
    if (first) this.focusCell(first.id);
    else this.runAllButton.focus();
  }

  editMarkdown(cellId, focus = true) {
    const view = this.views.get(cellId);
    const cell = this.session.cell(cellId);
    view.editing = true;
    view.rendered.hidden = true;
    view.editorBox.hidden = false;
    view.editor ??= this.createEditor(cell, view.editorBox);
    this.labelRunButton(view, cell);
    if (focus) view.editor.focus();
  }

  showMarkdown(cellId) {
    const view = this.views.get(cellId);
    const cell = this.session.cell(cellId);
    view.editing = false;
    view.editorBox.hidden = true;
    view.rendered.hidden = false;
    view.rendered.replaceChildren(cell.source.trim() ? renderMarkdown(parseMarkdown(cell.source))
      : el("p", "muted", "Empty markdown cell: press Enter or double-click to write."));
    this.labelRunButton(view, cell);
  }

  // --- outputs ---------------------------------------------------------------------------------------

  clearOutputs(cellId) {
    const view = this.views.get(cellId);
    if (!view) return;
    view.outputs.replaceChildren();
    view.parsers = {};
  }

  appendOutput(cellId, output) {
    const view = this.views.get(cellId);
    if (view) appendOutput(view.outputs, view.parsers, output, `cell ${this.session.index(cellId) + 1}`);
  }
}
