// Monaco, loaded by its AMD loader (web/index.html) so that `window.monaco` is the standard
// global for tests and extensions. One model per project file, made when the file is opened.

import { toMarkers } from "./diagnostics.js";

const MONACO_PATH = "node_modules/monaco-editor/min/vs";
// Monaco knows .sql as generic SQL; the platform runs MariaDB, whose dialect is "mysql".
const LANGUAGE_OVERRIDES = { ".sql": "mysql" };

/** Load Monaco from the page's own origin; rejects with a message for the user. */
export function loadMonaco() {
  const amdRequire = window.require;
  if (typeof amdRequire?.config !== "function") {
    return Promise.reject(new Error(
      "The editor is not installed on this server (web/node_modules is missing: run make web)."));
  }
  amdRequire.config({ paths: { vs: new URL(MONACO_PATH, document.baseURI).href } });
  return new Promise((resolve, reject) => {
    amdRequire(["vs/editor/editor.main"], () => resolve(window.monaco),
      (error) => reject(new Error(`The editor failed to load: ${error?.message ?? error}`)));
  });
}

export class Editor {
  /**
   * @param {any} monaco
   * @param {HTMLElement} element
   * @param {{onChange: (path: string, content: string) => void, theme: string}} options
   *   ``theme``: Monaco's theme name (vs, vs-dark)
   */
  constructor(monaco, element, { onChange, theme }) {
    this.monaco = monaco;
    this.onChange = onChange;
    this.models = new Map();
    this.viewStates = new Map();
    /** @type {Map<string, import("./diagnostics.js").Diagnostic[]>} owner (a console tab) → its run's */
    this.diagnostics = new Map();
    this.path = null;
    this.extensions = languageByExtension(monaco);
    // Programs run under Node, not in a browser: type errors against the DOM's library
    // would be noise, so TypeScript and JavaScript keep syntax checks only.
    const ts = monaco.typescript ?? monaco.languages.typescript;
    for (const defaults of [ts?.typescriptDefaults, ts?.javascriptDefaults]) {
      defaults?.setDiagnosticsOptions({ noSemanticValidation: true, noSyntaxValidation: false });
    }
    this.editor = monaco.editor.create(element, {
      model: null,
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 14,
      scrollBeyondLastLine: false,
      tabSize: 4,
      theme,
      ariaLabel: "Code editor",
    });
  }

  /** Monaco's theme is one for the page: the notebooks' cell editors follow too. */
  setTheme(theme) {
    this.monaco.editor.setTheme(theme);
  }

  /**
   * Markers (squiggles, gutter and overview marks, hovers) for a run's diagnostics; ``owner``
   * is the run's console tab, so that its next run replaces them (an empty list clears them).
   * Files opened later get theirs when their model is made.
   */
  setDiagnostics(owner, diagnostics) {
    if (diagnostics.length === 0 && !this.diagnostics.has(owner)) return;
    if (diagnostics.length) this.diagnostics.set(owner, diagnostics);
    for (const [path, model] of this.models) this.mark(path, model, owner, diagnostics);
    if (!diagnostics.length) this.diagnostics.delete(owner);
  }

  mark(path, model, owner, diagnostics) {
    const lines = model.getLineCount();
    const mine = diagnostics.filter((d) => d.file === path && d.line <= lines);
    const markers = toMarkers(mine, this.monaco.MarkerSeverity, {
      lineStart: (line) => model.getLineFirstNonWhitespaceColumn(line) || 1,
      lineEnd: (line) => model.getLineMaxColumn(line),
      wordEnd: (line, column) => model.getWordAtPosition({ lineNumber: line, column })?.endColumn ?? column + 1,
    });
    this.monaco.editor.setModelMarkers(model, owner, markers);
  }

  /** Put the cursor on ``line`` (and ``column``) of the open file, in view, and focus it. */
  reveal(line, column = null) {
    const model = this.editor.getModel();
    if (!model) return;
    const lineNumber = Math.min(Math.max(1, line), model.getLineCount());
    const position = { lineNumber, column: column ?? (model.getLineFirstNonWhitespaceColumn(lineNumber) || 1) };
    this.editor.setPosition(position);
    this.editor.revealPositionInCenterIfOutsideViewport(position);
    this.editor.focus();
  }

  languageFor(path) {
    const base = path.slice(path.lastIndexOf("/") + 1);
    const dot = base.lastIndexOf(".");
    const ext = dot > 0 ? base.slice(dot).toLowerCase() : "";
    return LANGUAGE_OVERRIDES[ext] ?? this.extensions.get(ext) ?? "plaintext";
  }

  /** Show ``path`` (making its model from ``content`` the first time). */
  show(path, content) {
    if (this.path !== null && this.models.has(this.path)) {
      this.viewStates.set(this.path, this.editor.saveViewState());
    }
    const model = this.model(path, content);
    this.path = path;
    this.editor.setModel(model);
    const state = this.viewStates.get(path);
    if (state) this.editor.restoreViewState(state);
  }

  /** ``path``'s model, made from ``content`` the first time (also for a file not shown:
   * a definition the language server found in it). */
  model(path, content) {
    let model = this.models.get(path);
    if (!model) {
      const uri = this.monaco.Uri.from({ scheme: "file", path: `/${path}` });
      model = this.monaco.editor.createModel(content, this.languageFor(path), uri);
      model.onDidChangeContent(() => this.onChange(path, model.getValue()));
      this.models.set(path, model);
      for (const [owner, diagnostics] of this.diagnostics) this.mark(path, model, owner, diagnostics);
    }
    return model;
  }

  /** No file open (an empty project). */
  clear() {
    this.path = null;
    this.editor.setModel(null);
  }

  /** The text of every open model, to save before a run or a reload. */
  contents() {
    return [...this.models].map(([path, model]) => [path, model.getValue()]);
  }

  /** Files renamed: their models go (a model's URI is its path); they reopen on demand. */
  forget(paths) {
    for (const path of paths) {
      const model = this.models.get(path);
      if (!model) continue;
      if (this.path === path) this.clear();
      model.dispose();
      this.models.delete(path);
      this.viewStates.delete(path);
    }
  }

  forgetAll() {
    this.forget([...this.models.keys()]);
  }

  focus() {
    this.editor.focus();
  }
}

function languageByExtension(monaco) {
  const map = new Map();
  for (const language of monaco.languages.getLanguages()) {
    for (const ext of language.extensions ?? []) {
      if (!map.has(ext.toLowerCase())) map.set(ext.toLowerCase(), language.id);
    }
  }
  return map;
}
