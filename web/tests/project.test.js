import assert from "node:assert/strict";
import { test } from "node:test";

import { LIMITS, nameProblem, Project, ProjectError, ProjectStore, runtimeFor } from "../js/project.js";

const RUNTIMES = [
  { name: "python", extension: ".py" },
  { name: "java", extension: ".java" },
  { name: "sql", extension: ".sql" },
];

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
}

function sample() {
  const p = new Project();
  p.createFile("main.py", "print(1)\n");
  p.createFile("lib/util.py", "X = 1\n");
  p.createFolder("empty");
  return p;
}

test("names follow the platform's rules, in plain words", () => {
  assert.equal(nameProblem("src/main.py"), null);
  assert.match(nameProblem(""), /name is needed/);
  assert.match(nameProblem("/etc/passwd"), /relative path/);
  assert.match(nameProblem("a\\b.py"), /forward slashes/);
  assert.match(nameProblem("../x.py"), /'\.\.'/);
  assert.match(nameProblem("a//b.py"), /empty/);
  assert.match(nameProblem("a/"), /empty/);
  assert.match(nameProblem("tab\there.py"), /control characters/);
  assert.match(nameProblem("x".repeat(256)), /255/);
});

test("the first file becomes the main file, a new file is opened, parents become folders", () => {
  const p = sample();
  assert.equal(p.main, "main.py");
  assert.equal(p.open, "lib/util.py");
  assert.ok(p.isFolder("lib"));
  assert.deepEqual(p.entries().map((e) => [e.path, e.kind, e.depth]), [
    ["empty", "folder", 0], ["lib", "folder", 0], ["lib/util.py", "file", 1], ["main.py", "file", 0],
  ]);
});

test("creating over an existing name or inside a file is refused", () => {
  const p = sample();
  assert.throws(() => p.createFile("main.py"), (e) => e instanceof ProjectError && /already exists/.test(e.message));
  assert.throws(() => p.createFolder("lib"), /already exists/);
  assert.throws(() => p.createFile("main.py/x.py"), /main\.py is a file/);
  assert.throws(() => p.createFile("../up.py"), ProjectError);
});

test("renaming a folder moves its files, the main file and the open file with it", () => {
  const p = sample();
  p.setMain("lib/util.py");
  const moved = p.rename("lib", "src/lib");
  assert.deepEqual(moved, [["lib/util.py", "src/lib/util.py"]]);
  assert.equal(p.main, "src/lib/util.py");
  assert.equal(p.open, "src/lib/util.py");
  assert.equal(p.content("src/lib/util.py"), "X = 1\n");
  assert.ok(p.isFolder("src") && p.isFolder("src/lib") && !p.isFolder("lib"));
});

test("a folder cannot move into itself, nor onto an existing name", () => {
  const p = sample();
  assert.throws(() => p.rename("lib", "lib/inner"), /into itself/);
  assert.throws(() => p.rename("lib/util.py", "main.py"), /already exists/);
  assert.throws(() => p.rename("nope.py", "x.py"), /no file or folder/);
});

test("deleting the main file picks another; deleting a folder deletes what it holds", () => {
  const p = sample();
  assert.deepEqual(p.delete("main.py"), ["main.py"]);
  assert.equal(p.main, "lib/util.py");
  assert.deepEqual(p.delete("lib"), ["lib/util.py"]);
  assert.equal(p.main, null);
  assert.equal(p.open, null);
  assert.deepEqual(p.paths(), []);
  assert.ok(p.isFolder("empty"));
});

test("a run request sends every file, the main file's language and its name", () => {
  const p = sample();
  assert.deepEqual(p.runRequest(RUNTIMES), {
    language: "python",
    mainFile: "main.py",
    files: [{ name: "lib/util.py", content: "X = 1\n" }, { name: "main.py", content: "print(1)\n" }],
  });
});

test("a run request says why it cannot run", () => {
  const p = new Project();
  assert.throws(() => p.runRequest(RUNTIMES), /main file/);
  p.createFile("notes.txt", "hi");
  assert.throws(() => p.runRequest(RUNTIMES), /No language here runs \.txt files.*\.py \.java \.sql/);
  p.createFile("big.py", "x".repeat(LIMITS.fileChars + 1));
  p.setMain("big.py");
  assert.throws(() => p.runRequest(RUNTIMES), /larger than 1 MiB/);
});

test("notebooks are not sent with a run, and are not run by Run", () => {
  const p = sample();
  p.createFile("big.ipynb", "x".repeat(LIMITS.fileChars + 1));
  assert.deepEqual(p.runRequest(RUNTIMES).files.map((f) => f.name), ["lib/util.py", "main.py"]);
  p.setMain("big.ipynb");
  assert.throws(() => p.runRequest(RUNTIMES), /big\.ipynb is a notebook: its cells run in the notebook/);
});

test("the runtime comes from the extension, case-insensitively", () => {
  assert.equal(runtimeFor("src/Main.JAVA", RUNTIMES).name, "java");
  assert.equal(runtimeFor("Makefile", RUNTIMES), undefined);
  assert.equal(runtimeFor(".py", RUNTIMES), undefined);
});

test("a project survives a round trip through storage, empty folders included", () => {
  const storage = new MemoryStorage();
  const store = new ProjectStore(storage);
  const p = sample();
  p.setMain("lib/util.py");
  assert.equal(store.save(p), null);
  const back = store.load();
  assert.deepEqual(back.toJSON(), p.toJSON());
  assert.ok(back.isFolder("empty"));
  assert.deepEqual(JSON.parse(storage.getItem("coderunner.project.v1")).folders, ["empty"]);
});

test("broken or hostile stored data gives no project or a cleaned one", () => {
  assert.equal(Project.fromJSON(null), null);
  assert.equal(Project.fromJSON("{not json"), null);
  assert.equal(Project.fromJSON("[1,2]"), null);
  const p = Project.fromJSON(JSON.stringify({
    files: { "ok.py": "1", "../evil.py": "2", "n.py": 3, "d": "file and folder" },
    folders: ["d", "/abs"], main: "../evil.py", open: "ok.py",
  }));
  assert.deepEqual(p.paths(), ["ok.py"]);
  assert.equal(p.main, null);
  assert.equal(p.open, "ok.py");
});

test("a storage that refuses is reported in words, not thrown", () => {
  const store = new ProjectStore({
    getItem() { throw new Error("denied"); },
    setItem() { throw new Error("QuotaExceededError"); },
  });
  assert.equal(store.load(), null);
  assert.match(store.save(sample()), /refused to store/);
});

test("a project holds at most 100 files", () => {
  const p = new Project();
  for (let k = 0; k < LIMITS.files; k += 1) p.createFile(`f${k}.py`);
  assert.throws(() => p.createFile("one-more.py"), /at most 100 files/);
});

test("a language chosen for a file runs it, and a mismatch with its extension is told", () => {
  const p = sample();
  assert.equal(p.languageMismatch("main.py", RUNTIMES), null);
  p.setLanguage("main.py", "java");
  assert.equal(p.runRequest(RUNTIMES).language, "java");
  assert.equal(p.languageMismatch("main.py", RUNTIMES), "main.py looks like python (.py), but it will run as java.");
  p.setLanguage("main.py", null);
  assert.equal(p.runRequest(RUNTIMES).language, "python");
  p.createFile("notes.txt", "print(1)");
  p.setLanguage("notes.txt", "python"); // no language by extension: no mismatch, and it runs
  assert.equal(p.languageMismatch("notes.txt", RUNTIMES), null);
  assert.equal(p.runRequest(RUNTIMES, "notes.txt").language, "python");
});

test("any file can be run, with the standard input kept for it", () => {
  const p = sample();
  assert.equal("stdin" in p.runRequest(RUNTIMES), false, "no stdin: input stays open for the live line");
  p.setStdin("lib/util.py", "3\n1 2 3\n");
  const request = p.runRequest(RUNTIMES, "lib/util.py");
  assert.equal(request.mainFile, "lib/util.py");
  assert.equal(request.stdin, "3\n1 2 3\n");
  assert.equal("stdin" in p.runRequest(RUNTIMES), false, "kept per file");
});

test("choices and inputs follow a rename, go with a delete and survive storage", () => {
  const p = sample();
  p.setLanguage("lib/util.py", "java");
  p.setStdin("lib/util.py", "x\n");
  p.rename("lib", "src");
  assert.equal(p.languageOf("src/util.py"), "java");
  assert.equal(p.stdinOf("src/util.py"), "x\n");
  const back = Project.fromJSON(JSON.stringify(p));
  assert.deepEqual(back.toJSON(), p.toJSON());
  assert.equal(back.stdinOf("src/util.py"), "x\n");
  p.delete("src");
  assert.deepEqual(p.toJSON().languages, {});
  assert.deepEqual(p.toJSON().stdin, {});
  assert.equal(Project.fromJSON(JSON.stringify({ files: { "a.py": "" }, stdin: [1], languages: "x" })).stdinOf("a.py"), "");
});
