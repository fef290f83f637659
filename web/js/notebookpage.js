// The notebooks of the page: an .ipynb file opened from the file panel becomes a notebook session
// (notebook-state.js) and its view (notebookview.js), in place of the editor. This module keeps
// them, routes the socket's frames to them, writes their documents back into the project's files,
// and closes their kernels when their files go.

import { isNotebookPath, NotebookError, parseNotebook, serializeNotebook } from "./nbformat.js";
import { Notebooks } from "./notebook-registry.js";
import { NotebookView } from "./notebookview.js";
import { baseName } from "./project.js";

export class NotebookPage {
  /**
   * @param {{element: HTMLElement, problem: HTMLElement, problemText: HTMLElement,
   *   problemAction: HTMLElement, project: () => import("./project.js").Project,
   *   send(frame: object): boolean, scheduleSave(): void, saveNow(): string|null}} env
   *   ``send`` reports itself when the socket is down; ``saveNow`` returns a problem in words.
   */
  constructor(env) {
    this.env = env;
    this.monaco = null; // set once Monaco has loaded: cells are Monaco editors
    this.notebooks = new Notebooks();
    /** @type {Map<object, NotebookView>} session → view */
    this.views = new Map();
    this.dirty = new Set(); // sessions whose document changed since it was written to its file
    this.asText = new Set(); // .ipynb paths the user opened as text
  }

  /** Is ``path`` shown as a notebook (rather than as text in the editor)? */
  shows(path) {
    return path !== null && isNotebookPath(path) && !this.asText.has(path);
  }

  /** Show the notebook at ``path`` (null: none), reading its file the first time. */
  show(path) {
    const { element, problem } = this.env;
    element.hidden = !this.shows(path);
    problem.hidden = true;
    for (const view of this.views.values()) view.root.hidden = true;
    if (element.hidden) return;
    if (!this.monaco) {
      this.showProblem("The editor is still loading…", false);
      return;
    }
    let session = this.notebooks.byPath(path);
    if (!session) {
      let notebook;
      try {
        notebook = parseNotebook(this.env.project().content(path));
      } catch (error) {
        if (!(error instanceof NotebookError)) throw error;
        this.showProblem(`${path} cannot be opened as a notebook: ${error.message}`, true);
        return;
      }
      session = this.open(path, notebook);
    }
    this.views.get(session).root.hidden = false;
  }

  open(path, notebook) {
    const added = this.notebooks.add(path, notebook);
    const { session } = added;
    this.views.set(session, new NotebookView({
      monaco: this.monaco, session, parent: this.env.element,
      act: (result) => this.act(session, result),
      save: () => this.save(session),
      download: () => this.download(session),
    }));
    this.act(session, added);
    return session;
  }

  showProblem(text, offerText) {
    this.env.problemText.textContent = text;
    this.env.problemAction.hidden = !offerText;
    this.env.problem.hidden = false;
  }

  /** Put the keyboard in the notebook at ``path``; false when it is not on view. */
  focus(path) {
    if (this.env.element.hidden) return false;
    const session = this.notebooks.byPath(path);
    if (session) this.views.get(session).focus();
    else this.env.problemAction.focus();
    return true;
  }

  /** Carry out what a notebook's state asked for: send its frames, draw its changes, save. */
  act(session, result) {
    if (!result) return;
    for (const frame of result.frames) this.env.send(frame);
    this.views.get(session)?.update(result.changes);
    if (result.changes.some((c) => c.kind === "dirty")) {
      this.dirty.add(session);
      this.env.scheduleSave();
    }
  }

  /** Write the notebooks that changed back into their files (before a save, a move, a copy). */
  flush() {
    const project = this.env.project();
    for (const session of this.dirty) {
      if (project.files.has(session.path)) project.setContent(session.path, serializeNotebook(session.notebook));
    }
    this.dirty.clear();
  }

  // --- the socket ---------------------------------------------------------------------------------

  /** A frame from the socket; true when it was a notebook's. */
  apply(frame) {
    const routed = this.notebooks.apply(frame);
    if (routed) this.act(routed.session, routed);
    return routed !== null;
  }

  sessionStarted(resumed) {
    for (const result of this.notebooks.sessionStarted(resumed)) this.act(result.session, result);
  }

  connectionLost() {
    for (const result of this.notebooks.connectionLost()) this.act(result.session, result);
  }

  // --- files --------------------------------------------------------------------------------------

  /** The notebook at ``path`` is gone from the page: its kernel is closed, its view removed. */
  close(path) {
    this.asText.delete(path);
    const result = this.notebooks.remove(path);
    if (!result) return;
    // With the socket down there is no notebook_close: the session's end closes the kernel.
    for (const frame of result.frames) this.env.send(frame);
    this.views.get(result.session)?.dispose();
    this.views.delete(result.session);
    this.dirty.delete(result.session);
  }

  closeAll() {
    for (const session of [...this.views.keys()]) this.close(session.path);
    this.asText.clear();
  }

  /** Files moved ([old, new] pairs): a notebook keeps its kernel, unless it is no longer one. */
  renamed(moved) {
    for (const [old, now] of moved) {
      const session = this.notebooks.byPath(old);
      const asText = this.asText.delete(old);
      if (session && isNotebookPath(now)) {
        this.notebooks.rename(old, now);
        this.views.get(session).root.dataset.path = now;
        if (asText) this.asText.add(now);
      } else if (session) {
        this.close(old);
      }
    }
  }

  save(session) {
    const problem = this.env.saveNow();
    this.views.get(session)?.say(problem ?? `Saved ${session.path} in the browser's storage.`,
      problem ? "error" : "info");
  }

  download(session) {
    this.flush();
    const blob = new Blob([this.env.project().content(session.path)], { type: "application/x-ipynb+json" });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = baseName(session.path);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /**
   * Switch ``path`` between notebook and JSON text; false when it cannot now (cells run).
   * Back from text that was edited, the notebook is read again, with a new kernel.
   */
  toggleText(path) {
    const session = this.notebooks.byPath(path);
    if (this.asText.has(path)) {
      this.asText.delete(path);
      if (session && this.env.project().content(path) !== serializeNotebook(session.notebook)) this.close(path);
      return true;
    }
    if (session?.busy) {
      this.views.get(session).say("Wait for the cells to finish (or interrupt them) first.", "error");
      return false;
    }
    this.flush();
    this.asText.add(path);
    return true;
  }

  /** Keys in the notebook on view at ``path``: Shift/Ctrl+Enter run, Ctrl+S saves. */
  onKey(e, path) {
    if (this.env.element.hidden || !this.env.element.contains(e.target)) return false;
    const session = this.notebooks.byPath(path);
    const view = session && this.views.get(session);
    if (!view) return false;
    if (e.key.toLowerCase() === "s" && (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey) {
      this.save(session);
      return true;
    }
    return view.onKey(e);
  }
}
