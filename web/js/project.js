// The project: files and folders, the main file and the open one, kept in the browser's
// storage. No DOM here (web/tests/project.test.js runs it under Node). File names follow the
// platform's rules (docs/protocol.md, execute_code), so what the panel accepts the server
// accepts too.

export const LIMITS = Object.freeze({
  files: 100,
  fileChars: 1_048_576,
  totalChars: 4 * 1_048_576,
  nameChars: 255,
});
export const STORAGE_KEY = "coderunner.project.v1";

/** A refused operation; ``message`` is meant for the user. */
export class ProjectError extends Error {
  constructor(message) {
    super(message);
    this.name = "ProjectError";
  }
}

/** Why ``path`` cannot name a file or folder, in plain words, or null. */
export function nameProblem(path) {
  if (typeof path !== "string" || path.trim() === "") return "A name is needed.";
  if (path.length > LIMITS.nameChars) return `A path is at most ${LIMITS.nameChars} characters.`;
  if (path.startsWith("/") || path.includes("\\")) {
    return "Use a relative path with forward slashes, such as src/util.py.";
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f]/.test(path)) return "A name cannot contain control characters.";
  if (path.split("/").some((part) => part === "" || part === "." || part === "..")) {
    return "A path cannot have empty, '.' or '..' parts.";
  }
  return null;
}

const parentOf = (path) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
export const baseName = (path) => path.slice(path.lastIndexOf("/") + 1);
export const extensionOf = (path) => {
  const base = baseName(path);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot).toLowerCase() : "";
};
const within = (path, folder) => path === folder || path.startsWith(folder + "/");

function ancestors(path) {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, k) => parts.slice(0, k + 1).join("/"));
}

export class Project {
  constructor({ files = {}, folders = [], main = null, open = null, languages = {}, stdin = {} } = {}) {
    /** @type {Map<string, string>} path → content */
    this.files = new Map(Object.entries(files));
    /** @type {Set<string>} every folder, including the parents of files */
    this.folders = new Set(folders);
    for (const path of this.files.keys()) for (const a of ancestors(path)) this.folders.add(a);
    this.main = main !== null && this.files.has(main) ? main : null;
    this.open = open !== null && this.files.has(open) ? open : this.main;
    /** @type {Map<string, string>} path → the runtime chosen for it in the picker */
    this.languages = new Map(Object.entries(languages).filter(([p, l]) => this.files.has(p) && typeof l === "string"));
    /** @type {Map<string, string>} path → the standard input to give it when Run starts it */
    this.stdin = new Map(Object.entries(stdin).filter(([p, t]) => this.files.has(p) && typeof t === "string"));
  }

  /** A project from stored JSON; null when it is missing or not a project. */
  static fromJSON(text) {
    if (!text) return null;
    try {
      const data = JSON.parse(text);
      if (!data || typeof data.files !== "object" || Array.isArray(data.files)) return null;
      const files = {};
      for (const [path, content] of Object.entries(data.files)) {
        if (typeof content === "string" && nameProblem(path) === null) files[path] = content;
      }
      const folders = Array.isArray(data.folders)
        ? data.folders.filter((f) => typeof f === "string" && nameProblem(f) === null) : [];
      const object = (value) => (value && typeof value === "object" && !Array.isArray(value) ? value : {});
      const project = new Project({ files, folders, main: data.main ?? null, open: data.open ?? null,
        languages: object(data.languages), stdin: object(data.stdin) });
      project.removeClashes();
      return project;
    } catch {
      return null;
    }
  }

  toJSON() {
    return {
      files: Object.fromEntries(this.files),
      folders: [...this.folders].filter((f) => !this.hasChildren(f)),
      main: this.main,
      open: this.open,
      languages: Object.fromEntries(this.languages),
      stdin: Object.fromEntries(this.stdin),
    };
  }

  has(path) { return this.files.has(path) || this.folders.has(path); }
  isFolder(path) { return this.folders.has(path); }
  content(path) { return this.files.get(path); }
  hasChildren(folder) {
    for (const p of [...this.files.keys(), ...this.folders]) if (p !== folder && within(p, folder)) return true;
    return false;
  }

  createFile(path, content = "") {
    this.checkNew(path);
    if (this.files.size >= LIMITS.files) {
      throw new ProjectError(`A project holds at most ${LIMITS.files} files.`);
    }
    this.files.set(path, content);
    for (const a of ancestors(path)) this.folders.add(a);
    if (this.main === null) this.main = path;
    this.open = path;
  }

  createFolder(path) {
    this.checkNew(path);
    for (const a of [...ancestors(path), path]) this.folders.add(a);
  }

  setContent(path, content) {
    if (!this.files.has(path)) throw new ProjectError(`There is no file ${path}.`);
    this.files.set(path, content);
  }

  setMain(path) {
    if (!this.files.has(path)) throw new ProjectError(`There is no file ${path}.`);
    this.main = path;
  }

  /** The runtime chosen for ``path`` in the picker, or null: its extension's. */
  languageOf(path) { return this.languages.get(path) ?? null; }

  setLanguage(path, language) {
    if (!this.files.has(path)) throw new ProjectError(`There is no file ${path}.`);
    if (language) this.languages.set(path, language);
    else this.languages.delete(path);
  }

  /** The text given to ``path``'s standard input when Run starts it ("" for none). */
  stdinOf(path) { return this.stdin.get(path) ?? ""; }

  setStdin(path, text) {
    if (!this.files.has(path)) throw new ProjectError(`There is no file ${path}.`);
    if (text) this.stdin.set(path, text);
    else this.stdin.delete(path);
  }

  setOpen(path) {
    if (!this.files.has(path)) throw new ProjectError(`There is no file ${path}.`);
    this.open = path;
  }

  /** Rename or move a file or a folder (with all it holds); returns [old, new] path pairs. */
  rename(from, to) {
    if (!this.has(from)) throw new ProjectError(`There is no file or folder ${from}.`);
    if (from === to) return [];
    if (this.isFolder(from) && within(to, from)) {
      throw new ProjectError("A folder cannot move into itself.");
    }
    this.checkNew(to);
    const moved = [];
    const move = (path) => to + path.slice(from.length);
    for (const [path, content] of [...this.files]) {
      if (!within(path, from)) continue;
      this.files.delete(path);
      this.files.set(move(path), content);
      moved.push([path, move(path)]);
      for (const map of [this.languages, this.stdin]) {
        if (!map.has(path)) continue;
        map.set(move(path), map.get(path));
        map.delete(path);
      }
    }
    for (const folder of [...this.folders]) {
      if (!within(folder, from)) continue;
      this.folders.delete(folder);
      this.folders.add(move(folder));
    }
    for (const a of ancestors(to)) this.folders.add(a);
    if (this.main !== null && within(this.main, from)) this.main = move(this.main);
    if (this.open !== null && within(this.open, from)) this.open = move(this.open);
    return moved;
  }

  /** Delete a file, or a folder with all it holds; returns the deleted files' paths. */
  delete(path) {
    if (!this.has(path)) throw new ProjectError(`There is no file or folder ${path}.`);
    const gone = [...this.files.keys()].filter((p) => within(p, path));
    for (const p of gone) {
      this.files.delete(p);
      this.languages.delete(p);
      this.stdin.delete(p);
    }
    for (const f of [...this.folders]) if (within(f, path)) this.folders.delete(f);
    const first = this.paths()[0] ?? null;
    if (this.main !== null && !this.files.has(this.main)) this.main = first;
    if (this.open !== null && !this.files.has(this.open)) this.open = this.main ?? first;
    return gone;
  }

  /** File paths in tree order (folders' files first, by name, as the panel shows them). */
  paths() {
    return this.entries().filter((e) => e.kind === "file").map((e) => e.path);
  }

  /** The tree, flattened in display order: {path, name, depth, kind} with folders first. */
  entries() {
    const all = [
      ...[...this.folders].map((path) => ({ path, kind: "folder" })),
      ...[...this.files.keys()].map((path) => ({ path, kind: "file" })),
    ];
    const key = (entry) => {
      const parts = entry.path.split("/");
      // Sort by each ancestor's name, folders before files at every level.
      return parts.map((part, k) => {
        const folder = k < parts.length - 1 || entry.kind === "folder";
        return (folder ? "0" : "1") + part;
      });
    };
    const keys = new Map(all.map((e) => [e, key(e)]));
    all.sort((a, b) => compareParts(keys.get(a), keys.get(b)));
    return all.map((e) => ({
      ...e, name: baseName(e.path), depth: e.path.split("/").length - 1,
    }));
  }

  /**
   * The frame fields to run ``main`` (the main file unless told), in the language chosen for
   * it or else its extension's, with its standard input if it has some; or throws a
   * ProjectError saying why not.
   */
  runRequest(runtimes, main = this.main) {
    if (main === null) throw new ProjectError("Choose a main file to run (★ in the file panel).");
    if (extensionOf(main) === ".ipynb") {
      throw new ProjectError(`${main} is a notebook: its cells run in the notebook (Run all), `
        + "not with Run. Make another file the main file (★) to run it.");
    }
    const runtime = this.runtimeOf(main, runtimes);
    if (!runtime) {
      const ext = extensionOf(main) || "(none)";
      const known = runtimes.map((r) => r.extension).join(" ");
      throw new ProjectError(`No language here runs ${ext} files; the main file must end in one of: ${known}.`);
    }
    // Notebooks are not sent: they run in their kernel, and their images would count against
    // the run's limits.
    const files = this.paths().filter((name) => extensionOf(name) !== ".ipynb")
      .map((name) => ({ name, content: this.files.get(name) }));
    let total = 0;
    for (const { name, content } of files) {
      if (content.length > LIMITS.fileChars) {
        throw new ProjectError(`${name} is larger than 1 MiB, the limit for one file.`);
      }
      total += content.length;
    }
    if (total > LIMITS.totalChars) throw new ProjectError("The files add up to more than 4 MiB, the limit for a run.");
    const request = { language: runtime.name, files, mainFile: main };
    if (this.stdinOf(main)) request.stdin = this.stdinOf(main);
    return request;
  }

  /** The runtime that runs ``path``: the one chosen in the picker, else its extension's. */
  runtimeOf(path, runtimes) {
    const chosen = this.languageOf(path);
    return (chosen && runtimes.find((r) => r.name === chosen)) || runtimeFor(path, runtimes);
  }

  /** Words for a language chosen against ``path``'s extension, or null when they agree. */
  languageMismatch(path, runtimes) {
    const chosen = this.languageOf(path) && runtimes.find((r) => r.name === this.languageOf(path));
    const byExtension = runtimeFor(path, runtimes);
    if (!chosen || !byExtension || chosen.name === byExtension.name) return null;
    return `${baseName(path)} looks like ${byExtension.displayName ?? byExtension.name} (${extensionOf(path)}), `
      + `but it will run as ${chosen.displayName ?? chosen.name}.`;
  }

  checkNew(path) {
    const problem = nameProblem(path);
    if (problem) throw new ProjectError(problem);
    if (this.has(path)) throw new ProjectError(`${path} already exists.`);
    for (const a of ancestors(path)) {
      if (this.files.has(a)) throw new ProjectError(`${a} is a file, so it cannot hold ${baseName(path)}.`);
    }
  }

  /** Stored data from elsewhere may hold a path that is both a file and a folder's prefix. */
  removeClashes() {
    for (const path of [...this.files.keys()]) {
      if (this.folders.has(path)) this.files.delete(path);
    }
    if (this.main !== null && !this.files.has(this.main)) this.main = null;
    if (this.open !== null && !this.files.has(this.open)) this.open = this.main;
  }
}

function compareParts(a, b) {
  for (let k = 0; k < Math.min(a.length, b.length); k += 1) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return a.length - b.length;
}

/** The runtime that runs ``path``, by its extension, or undefined. */
export function runtimeFor(path, runtimes) {
  const ext = extensionOf(path);
  return ext ? runtimes.find((r) => r.extension.toLowerCase() === ext) : undefined;
}

/** Load and save a project in a Storage-like object (localStorage in the page). */
export class ProjectStore {
  constructor(storage, key = STORAGE_KEY) {
    this.storage = storage;
    this.key = key;
  }

  load() {
    try {
      return Project.fromJSON(this.storage.getItem(this.key));
    } catch {
      return null; // storage refused (privacy settings): start afresh
    }
  }

  /** Save; returns a problem in words when the browser refused (quota), else null. */
  save(project) {
    try {
      this.storage.setItem(this.key, JSON.stringify(project));
      return null;
    } catch {
      return "The browser refused to store the project (storage full or disabled); "
        + "changes will be lost on reload.";
    }
  }
}
