import assert from "node:assert/strict";
import { test } from "node:test";

import { Project } from "../js/project.js";
import { WorkspaceSync, conflictPath } from "../js/workspace-sync.js";

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
}

/** The workspace API's rules that the sync relies on, in memory (the real ones are tested in
 * tests/integration/test_workspaces.py). ``online = false`` makes every request fail. */
class FakeServer {
  constructor() { this.revisions = []; this.online = true; }
  tree() { return this.revisions.at(-1) ?? null; }
  sha(content) { return `sha:${content}`; }
  save(files) { this.revisions.push(new Map(files)); }
  json(body, status = 200) {
    return { ok: status < 400, status, json: async () => body, text: async () => JSON.stringify(body) };
  }
  async fetch(url, { method = "GET", body } = {}) {
    if (!this.online) throw new TypeError("Failed to fetch");
    const u = new URL(url, "http://edge");
    if (u.pathname === "/api/v1/workspaces") return this.json({ workspaces: this.tree() ? ["w"] : [] });
    const rest = u.pathname.replace("/api/v1/workspaces/w", "");
    const head = this.tree() ?? new Map();
    const revision = this.revisions.length;
    if (rest === "" && method === "GET") {
      const tree = this.json({ revision, files: [...head].map(([path, content]) => ({ path, sha256: this.sha(content) })) });
      this.afterTree?.(); // another page saving right after this read
      return tree;
    }
    const path = decodeURIComponent(rest.replace("/files/", ""));
    if (method === "GET") {
      const at = this.revisions[Number(u.searchParams.get("revision") ?? revision) - 1];
      return { ok: true, status: 200, text: async () => at.get(path) };
    }
    const base = u.searchParams.get("base");
    if (base !== null && this.revisions[Number(base) - 1]?.get(path) !== head.get(path)) {
      return this.json({ error: { code: "conflict", message: "changed" } }, 409);
    }
    const next = new Map(head);
    if (method === "PUT") next.set(path, body);
    else next.delete(path);
    this.save(next);
    return this.json({ revision: this.revisions.length, sha256: method === "PUT" ? this.sha(body) : null });
  }
}

function page(server, files) {
  let project = new Project({ files, main: Object.keys(files)[0] ?? null });
  const sync = new WorkspaceSync({
    fetch: (url, init) => server.fetch(url, init), storage: new MemoryStorage(), id: "w",
    project: () => project,
    apply: (changes, conflicts) => {
      for (const { path, content } of changes) {
        if (content === null) project.delete(path);
        else if (project.files.has(path)) project.setContent(path, content);
        else project.createFile(path, content);
      }
      sync.conflicts.push(...conflicts);
    },
    onState: (state) => sync.states.push(state.state),
  });
  sync.conflicts = [];
  sync.states = [];
  return { sync, project: () => project, set: (p, c) => project.setContent(p, c) };
}

test("a first page makes the workspace; a second takes it as it is", async () => {
  const server = new FakeServer();
  const a = page(server, { "main.py": "print(1)" });
  await a.sync.sync();
  assert.deepEqual([...server.tree()], [["main.py", "print(1)"]]);
  const b = page(server, { "main.py": "the default template" });
  await b.sync.sync();
  assert.equal(b.project().content("main.py"), "print(1)");
  assert.deepEqual(b.sync.conflicts, []);
});

test("an edit made offline is saved when the server is back", async () => {
  const server = new FakeServer();
  const a = page(server, { "main.py": "v1" });
  await a.sync.sync();
  server.online = false;
  a.set("main.py", "v2 offline");
  await a.sync.round();
  assert.equal(a.sync.state, "offline");
  server.online = true;
  await a.sync.sync();
  assert.equal(server.tree().get("main.py"), "v2 offline");
  assert.equal(a.sync.state, "saved");
  clearTimeout(a.sync.timer); // the retry the offline round scheduled
});

test("a file changed here and elsewhere keeps both versions, here and on the server", async () => {
  const server = new FakeServer();
  const a = page(server, { "main.py": "v1" });
  await a.sync.sync();
  const b = page(server, {});
  await b.sync.sync();
  server.online = false;
  b.set("main.py", "b's edit");
  server.online = true;
  a.set("main.py", "a's edit");
  await a.sync.sync();
  await b.sync.sync();
  const copy = "main (conflict r2).py";
  assert.deepEqual(b.sync.conflicts, [copy]);
  assert.equal(b.project().content("main.py"), "b's edit");
  assert.equal(b.project().content(copy), "a's edit");
  assert.equal(server.tree().get("main.py"), "b's edit");
  assert.equal(server.tree().get(copy), "a's edit");
  await a.sync.sync();
  assert.equal(a.project().content("main.py"), "b's edit"); // unchanged at a since: taken
  assert.equal(a.project().content(copy), "a's edit");
});

test("a save that lost a race to another page is a 409, then a conflict kept, not an overwrite", async () => {
  const server = new FakeServer();
  const a = page(server, { "main.py": "v1" });
  await a.sync.sync();
  const b = page(server, {});
  await b.sync.sync();
  a.set("main.py", "a");
  await a.sync.sync();
  b.set("main.py", "b"); // b has not pulled a's save: its push is based on revision 1
  await b.sync.push();
  assert.equal(server.tree().get("main.py"), "a");
  assert.equal(b.sync.again, true);
  await b.sync.sync();
  assert.equal(server.tree().get("main.py"), "b");
  assert.equal(server.tree().get("main (conflict r2).py"), "a");
});

test("a delete of a file changed elsewhere since the pull is a 409: not deleted, not 'saved'", async () => {
  const server = new FakeServer();
  const a = page(server, { "main.py": "v1", "util.py": "u1" });
  await a.sync.sync();
  a.project().delete("util.py");
  const head = () => new Map(server.tree());
  // Another page saves util.py just after this round's pull read the tree.
  server.afterTree = () => { server.afterTree = null; server.save([...head(), ["util.py", "b's edit"]]); };
  a.sync.states.length = 0;
  await a.sync.round();
  assert.equal(server.tree().get("util.py"), "b's edit");
  assert.equal(a.sync.again, true);
  assert.deepEqual(a.sync.states, ["saving"]);
  a.sync.again = false;
  await a.sync.sync(); // the next round takes the other edit back rather than deleting it
  assert.equal(a.project().content("util.py"), "b's edit");
  assert.equal(server.tree().get("util.py"), "b's edit");
  assert.equal(a.sync.state, "saved");
});

test("adopting reads the files of the revision it listed, not a newer one", async () => {
  const server = new FakeServer();
  server.save([["main.py", "r1"]]);
  const a = page(server, {});
  server.afterTree = () => { server.afterTree = null; server.save([["main.py", "r2"]]); };
  await a.sync.adopt();
  assert.equal(a.sync.revision, 1);
  assert.equal(a.project().content("main.py"), "r1");
  assert.deepEqual(a.sync.synced.get("main.py"), { sha: server.sha("r1"), content: "r1" });
});

test("a conflict copy's name is new and keeps the extension", () => {
  assert.equal(conflictPath("src/main.py", 7), "src/main (conflict r7).py");
  assert.equal(conflictPath("Makefile", 3), "Makefile (conflict r3)");
  assert.equal(conflictPath("a.b/c", 2), "a.b/c (conflict r2)");
  assert.equal(conflictPath("x.py", 1, (p) => p === "x (conflict r1).py"), "x (conflict r1, 2).py");
});
