// Jupyter notebooks (.ipynb, nbformat 4) in and out. No DOM here (web/tests/nbformat.test.js
// runs it under Node). In memory a cell's source is one string; on disk it is written as an
// array of lines, as Jupyter writes it, and read in either form. Outputs are kept exactly as they
// were read or received: the platform sends them as nbformat output dicts already.

export const NBFORMAT_MINOR = 5; // 4.5: the first minor version with cell ids
export const CELL_ID = /^[A-Za-z0-9_-]{1,64}$/;
const CELL_TYPES = new Set(["code", "markdown", "raw"]);

/** The kernels the platform runs (/tmp/nb/protocol.md: notebook_open's ``kernel``). */
const KERNELSPECS = {
  python: {
    kernelspec: { display_name: "Python 3 (ipykernel)", language: "python", name: "python3" },
    language_info: { name: "python", file_extension: ".py", mimetype: "text/x-python" },
  },
  bash: {
    kernelspec: { display_name: "Bash", language: "bash", name: "bash" },
    language_info: { name: "bash", file_extension: ".sh", mimetype: "text/x-sh" },
  },
};

/** A file that is not a notebook this IDE can open; ``message`` is meant for the user. */
export class NotebookError extends Error {
  constructor(message) {
    super(message);
    this.name = "NotebookError";
  }
}

export const isNotebookPath = (path) => typeof path === "string" && /\.ipynb$/i.test(path);

/** nbformat's multiline string: a string, or an array of lines to be joined. */
export function joinText(value) {
  if (Array.isArray(value)) return value.map((line) => (typeof line === "string" ? line : "")).join("");
  return typeof value === "string" ? value : "";
}

/** A string as nbformat writes it: lines, each but the last keeping its "\n"; "" is []. */
export function splitLines(text) {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** A fresh cell id: 8 random hex digits, as Jupyter makes them (any [A-Za-z0-9_-]{1,64}). */
export function newCellId(random = randomBytes) {
  return [...random(4)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function randomBytes(n) {
  const bytes = new Uint8Array(n);
  if (globalThis.crypto?.getRandomValues) return globalThis.crypto.getRandomValues(bytes);
  return bytes.map(() => Math.floor(Math.random() * 256));
}

/** A new cell of ``type`` (code, markdown or raw). */
export function newCell(type = "code", source = "", id = newCellId()) {
  const cell = { id, cell_type: type, metadata: {}, source };
  if (type === "code") Object.assign(cell, { execution_count: null, outputs: [] });
  return cell;
}

/** An empty notebook for ``kernel`` (python or bash), with one empty code cell. */
export function emptyNotebook(kernel = "python") {
  return {
    nbformat: 4,
    nbformat_minor: NBFORMAT_MINOR,
    metadata: structuredClone(KERNELSPECS[kernel] ?? KERNELSPECS.python),
    cells: [newCell("code")],
  };
}

/** The kernel a notebook asks for: bash when its kernelspec or language says so, else python. */
export function kernelOf(notebook) {
  const meta = notebook.metadata ?? {};
  const names = [meta.kernelspec?.name, meta.kernelspec?.language, meta.language_info?.name];
  return names.some((n) => typeof n === "string" && n.toLowerCase() === "bash") ? "bash" : "python";
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Read a notebook from the text of an .ipynb file. Sources may be strings or arrays of lines;
 * cells without a valid, unique id get one; an older 4.x minor version is brought to 4.5.
 * Throws a NotebookError saying what is wrong.
 */
export function parseNotebook(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new NotebookError(`The file is not valid JSON (${error.message}).`);
  }
  if (!isObject(data)) throw new NotebookError("The file is not a notebook: it holds no JSON object.");
  if (data.nbformat !== 4) {
    const version = data.nbformat === undefined ? "no nbformat version" : `nbformat ${data.nbformat}`;
    throw new NotebookError(`Only nbformat 4 notebooks can be opened; this one has ${version}.`);
  }
  if (!Array.isArray(data.cells)) throw new NotebookError("The notebook has no list of cells.");
  const metadata = isObject(data.metadata) ? data.metadata : {};
  if (!isObject(metadata.kernelspec) || !isObject(metadata.language_info)) {
    const defaults = KERNELSPECS[kernelOf({ metadata })];
    metadata.kernelspec = isObject(metadata.kernelspec) ? metadata.kernelspec : structuredClone(defaults.kernelspec);
    metadata.language_info = isObject(metadata.language_info)
      ? metadata.language_info : structuredClone(defaults.language_info);
  }
  const seen = new Set();
  const cells = data.cells.filter(isObject).map((raw) => readCell(raw, seen));
  const minor = Number.isInteger(data.nbformat_minor) ? data.nbformat_minor : 0;
  return { nbformat: 4, nbformat_minor: Math.max(minor, NBFORMAT_MINOR), metadata, cells };
}

function readCell(raw, seen) {
  // An unknown cell type is kept as raw text rather than dropped.
  const type = CELL_TYPES.has(raw.cell_type) ? raw.cell_type : "raw";
  let id = typeof raw.id === "string" && CELL_ID.test(raw.id) && !seen.has(raw.id) ? raw.id : null;
  while (id === null || seen.has(id)) id = newCellId();
  seen.add(id);
  const cell = newCell(type, joinText(raw.source), id);
  if (isObject(raw.metadata)) cell.metadata = raw.metadata;
  if (type !== "code" && isObject(raw.attachments)) cell.attachments = raw.attachments;
  if (type === "code") {
    cell.outputs = Array.isArray(raw.outputs)
      ? raw.outputs.filter((o) => isObject(o) && typeof o.output_type === "string") : [];
    cell.execution_count = Number.isInteger(raw.execution_count) ? raw.execution_count : null;
  }
  return cell;
}

/** The notebook as .ipynb text: keys sorted and a one-space indent, as Jupyter writes it. */
export function serializeNotebook(notebook) {
  const cells = notebook.cells.map((cell) => {
    const out = { cell_type: cell.cell_type };
    if (cell.cell_type === "code") out.execution_count = cell.execution_count ?? null;
    out.id = cell.id;
    out.metadata = cell.metadata ?? {};
    if (cell.cell_type === "code") out.outputs = cell.outputs ?? [];
    if (cell.attachments && cell.cell_type !== "code") out.attachments = cell.attachments;
    out.source = splitLines(cell.source);
    return sortKeys(out);
  });
  const document = {
    cells,
    metadata: notebook.metadata ?? {},
    nbformat: 4,
    nbformat_minor: Math.max(notebook.nbformat_minor ?? NBFORMAT_MINOR, NBFORMAT_MINOR),
  };
  return `${JSON.stringify(document, null, 1)}\n`;
}

function sortKeys(object) {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A file-name-safe kernel name for a notebook: [A-Za-z0-9_-], at most 64 characters, stable
 * for a path (so a reload finds the kernel the session still has). */
export function notebookIdFor(path) {
  let hash = 0x811c9dc5; // FNV-1a, 32 bits: short, stable, and enough to tell paths apart
  for (const ch of path) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const stem = path.replace(/\.ipynb$/i, "").replace(/[^A-Za-z0-9_-]+/g, "_").slice(-40);
  return `nb-${stem}-${hash.toString(16).padStart(8, "0")}`;
}

const SAMPLE_CELLS = [
  ["markdown", "# A notebook\n\nRun a cell with **Shift+Enter** (it moves on to the next one), "
    + "or everything with *Run all*. Variables live in the kernel between cells."],
  ["code", "x = 41"],
  ["code", "x + 1"],
  ["code", "import matplotlib.pyplot as plt\nplt.plot([1,2,3],[1,4,9])\nplt.show()"],
];

/** The sample notebook of the templates: a markdown cell, two cells that share a variable, a plot. */
export function sampleNotebook() {
  const notebook = emptyNotebook("python");
  notebook.cells = SAMPLE_CELLS.map(([type, source]) => newCell(type, source));
  return notebook;
}
