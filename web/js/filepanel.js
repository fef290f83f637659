// The file panel: the project's tree as a list of buttons, and one small inline form that asks
// for a name or a confirmation (no prompt() or confirm(): they block the page and are poorly
// reachable by keyboard and assistive technology).

import { baseName } from "./project.js";

const $ = (id) => document.getElementById(id);

function button(text, label, className, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.className = className;
  if (label) {
    b.setAttribute("aria-label", label);
    b.title = label;
  }
  b.addEventListener("click", onClick);
  return b;
}

export class FilePanel {
  /**
   * @param {{open(path: string): void, setMain(path: string): void,
   *   create(kind: "file"|"folder"|"notebook", path: string): string|null,
   *   rename(from: string, to: string): string|null, remove(path: string): string|null,
   *   focusEditor(): void}} actions
   *   create, rename and remove return a problem in words, or null when done.
   */
  constructor(actions) {
    this.actions = actions;
    this.list = $("file-list");
    this.form = $("ask");
    this.input = $("ask-input");
    this.pending = null; // what the form is asking for
    this.returnFocus = null;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    $("ask-cancel").addEventListener("click", () => this.cancel());
    this.form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.cancel();
      }
    });
  }

  /** Draw the tree of ``project``. */
  render(project) {
    const focused = document.activeElement?.closest?.("#file-list li")?.dataset.path;
    const focusedClass = document.activeElement?.className;
    this.list.replaceChildren();
    for (const entry of project.entries()) {
      this.list.append(entry.kind === "folder" ? this.folderRow(entry) : this.fileRow(entry, project));
    }
    if (project.files.size === 0) {
      const empty = document.createElement("li");
      empty.className = "muted small";
      empty.textContent = "No files yet: add one, or start from a template.";
      this.list.append(empty);
    }
    // Keep the keyboard where it was when a re-render replaced the focused button.
    if (focused !== undefined) {
      const row = [...this.list.children].find((li) => li.dataset.path === focused);
      const again = row && [...row.querySelectorAll("button")].find((b) => b.className === focusedClass);
      again?.focus();
    }
  }

  fileRow(entry, project) {
    const li = document.createElement("li");
    li.className = "entry file";
    li.dataset.path = entry.path;
    li.style.setProperty("--depth", entry.depth);
    const isMain = project.main === entry.path;
    const open = button(entry.name, null, "name", () => this.actions.open(entry.path));
    open.title = entry.path;
    if (project.open === entry.path) open.setAttribute("aria-current", "true");
    const main = button(isMain ? "★" : "☆", isMain ? `${entry.path} is the main file`
      : `Make ${entry.path} the main file`, "main", () => this.actions.setMain(entry.path));
    main.setAttribute("aria-pressed", String(isMain));
    li.append(
      main, open,
      button("✎", `Rename ${entry.path}`, "rename", () => this.ask("rename", entry.path)),
      button("✕", `Delete ${entry.path}`, "delete", () => this.ask("delete", entry.path)),
    );
    return li;
  }

  folderRow(entry) {
    const li = document.createElement("li");
    li.className = "entry folder";
    li.dataset.path = entry.path;
    li.style.setProperty("--depth", entry.depth);
    const name = document.createElement("span");
    name.className = "name folder-name";
    name.textContent = `${entry.name}/`;
    li.append(
      name,
      button("+", `New file in ${entry.path}`, "add", () => this.ask("file", `${entry.path}/`)),
      button("✎", `Rename folder ${entry.path}`, "rename", () => this.ask("rename", entry.path)),
      button("✕", `Delete folder ${entry.path}`, "delete", () => this.ask("delete", entry.path)),
    );
    return li;
  }

  /**
   * Ask for a name ("file", "folder", "notebook" with ``value`` as the prefill; "rename" of
   * ``value``) or for a confirmation ("delete" of ``value``).
   */
  ask(kind, value = "") {
    this.returnFocus = document.activeElement;
    this.pending = { kind, value };
    const labels = {
      file: "New file name (a path such as src/util.py makes folders)",
      folder: "New folder name",
      notebook: "New notebook name (.ipynb is added)",
      rename: `New name for ${value}`,
      delete: `Delete ${value}?`,
    };
    $("ask-label").textContent = labels[kind];
    $("ask-error").textContent = "";
    $("ask-message").textContent = kind === "delete" ? "This cannot be undone." : "";
    $("ask-ok").textContent = kind === "delete" ? "Delete" : "OK";
    this.input.hidden = kind === "delete";
    this.input.value = kind === "notebook" ? `${value}notebook.ipynb` : kind === "delete" ? "" : value;
    this.form.hidden = false;
    if (kind === "delete") {
      $("ask-ok").focus();
    } else {
      this.input.focus();
      // Select the name, not its folder or extension, as file managers do.
      const start = this.input.value.lastIndexOf("/") + 1;
      const base = baseName(this.input.value);
      const dot = kind === "rename" || kind === "notebook" ? base.lastIndexOf(".") : -1;
      this.input.setSelectionRange(start, dot > 0 ? start + dot : this.input.value.length);
    }
  }

  submit() {
    if (!this.pending) return;
    const { kind, value } = this.pending;
    const name = this.input.value.trim();
    let problem;
    if (kind === "file" || kind === "folder" || kind === "notebook") problem = this.actions.create(kind, name);
    else if (kind === "rename") problem = this.actions.rename(value, name);
    else problem = this.actions.remove(value);
    if (problem) {
      $("ask-error").textContent = problem;
      (kind === "delete" ? $("ask-ok") : this.input).focus();
      return;
    }
    if (kind === "file" || kind === "notebook") {
      this.close(null, false);
      this.actions.focusEditor();
    } else {
      this.close(kind === "rename" ? name : null);
    }
  }

  cancel() {
    this.close(null);
  }

  /** Hide the form; put the focus back, on ``path``'s row when it names one. */
  close(path, refocus = true) {
    this.pending = null;
    this.form.hidden = true;
    if (!refocus) {
      this.returnFocus = null;
      return;
    }
    const row = path && [...this.list.children].find((li) => li.dataset.path === path);
    const target = row ? row.querySelector("button.name") : this.returnFocus;
    if (target?.isConnected) target.focus();
    else $("new-file").focus();
    this.returnFocus = null;
  }
}
