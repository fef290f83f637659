import assert from "node:assert/strict";
import { test } from "node:test";

import { CHANGE_DELAY_MS, LanguageServers, QUICK_STOP_MS, RETRY_MS } from "../js/lsp-servers.js";
import { FakeClock, settle } from "./lsp-fakes.js";

/** The page's servers over a fake socket; ``state.open`` is the file open in the editor. */
function setUp(files = { "main.py": "import os\n", "main.c": "int main(void) { return 0; }\n", "notes.txt": "" }) {
  const clock = new FakeClock();
  const frames = [];
  const project = new Map(Object.entries(files));
  const state = { open: "main.py" };
  const servers = new LanguageServers({
    send: (frame) => { frames.push(structuredClone(frame)); return true; },
    files: () => project, openPath: () => state.open, timers: clock, now: () => clock.now,
  });
  return { clock, frames, project, state, servers };
}

const sent = (frames, server = null) => frames.filter((f) => server === null || f.server === server)
  .map((f) => f.message.method ?? `answer ${f.message.id}`);

/** Answer the newest initialize of ``server``. */
async function answerInitialize({ servers, frames }, server) {
  const init = frames.findLast((f) => f.server === server && f.message.method === "initialize");
  servers.apply({ type: "lsp", server, message: { jsonrpc: "2.0", id: init.message.id, result: { capabilities: {} } } });
  await settle();
}

async function started(files) {
  const setup = setUp(files);
  setup.servers.enable();
  setup.servers.connect();
  await answerInitialize(setup, "python");
  setup.frames.length = 0;
  return setup;
}

test("nothing starts before the socket and the editor are there; then the open file's server only", () => {
  const { servers, frames } = setUp();
  servers.connect();
  assert.deepEqual(frames, [], "no editor yet");
  servers.disconnect();
  servers.enable();
  assert.deepEqual(frames, [], "no socket");
  servers.connect();
  assert.deepEqual(frames.map((f) => [f.type, f.server, f.message.method]), [["lsp", "python", "initialize"]]);
});

test("opening a C file starts clangd's server; a .txt file starts none", async () => {
  const setup = await started();
  const { servers, frames, state } = setup;
  state.open = "notes.txt";
  servers.sync();
  assert.deepEqual(frames, []);
  state.open = "main.c";
  servers.sync();
  assert.deepEqual(sent(frames), ["initialize"]);
  assert.equal(frames[0].server, "cpp");
  assert.equal(servers.client("python").state, "running", "the other server keeps running");
});

test("edits are passed on once typing pauses for CHANGE_DELAY_MS: one didChange for a burst", async () => {
  const { servers, frames, project, clock } = await started();
  for (const text of ["import os\no", "import os\nos", "import os\nos."]) {
    project.set("main.py", text);
    servers.schedule();
    clock.advance(CHANGE_DELAY_MS - 50);
  }
  assert.deepEqual(frames, [], "not while typing");
  clock.advance(50);
  assert.deepEqual(sent(frames), ["textDocument/didChange"]);
  assert.deepEqual(frames[0].message.params,
    { textDocument: { uri: "file:///workspace/main.py", version: 2 }, contentChanges: [{ text: "import os\nos." }] });
});

test("a request first passes on the edit waiting for the pause", async () => {
  const { servers, frames, project, clock } = await started();
  project.set("main.py", "import os\nos.");
  servers.schedule();
  const answer = servers.request("python", "textDocument/completion", { position: { line: 1, character: 3 } });
  assert.deepEqual(sent(frames), ["textDocument/didChange", "textDocument/completion"]);
  clock.advance(CHANGE_DELAY_MS);
  assert.equal(frames.length, 2, "the timer's sync has nothing left to send");
  servers.apply({ type: "lsp", server: "python", message: { jsonrpc: "2.0", id: frames[1].message.id, result: { items: [] } } });
  assert.deepEqual(await answer, { items: [] });
});

test("frames: lsp and lsp_state are the servers'; others are not", async () => {
  const { servers } = await started();
  assert.equal(servers.apply({ type: "output", executionId: "e" }), false);
  assert.equal(servers.apply({ type: "lsp_state", server: "python", state: "ready" }), true);
  assert.equal(servers.client("python").phase, "ready");
  assert.equal(servers.apply({ type: "lsp", server: "cobol", message: {} }), true);
});

test("a stopped server starts again on the next edit, not on a sync without one", async () => {
  const { servers, frames, project, clock } = await started();
  clock.advance(QUICK_STOP_MS); // an idle stop, not a crash
  servers.apply({ type: "lsp_state", server: "python", state: "stopped", message: "idle for 300 s" });
  servers.schedule();
  clock.advance(CHANGE_DELAY_MS);
  assert.deepEqual(frames, [], "no edit: it stays stopped");
  project.set("main.py", "import sys\n");
  servers.schedule();
  clock.advance(CHANGE_DELAY_MS);
  assert.deepEqual(sent(frames), ["initialize"]);
  await answerInitialize({ servers, frames }, "python");
  assert.deepEqual(sent(frames).slice(1), ["initialized", "workspace/didChangeConfiguration", "textDocument/didOpen"]);
  assert.equal(frames.at(-1).message.params.textDocument.text, "import sys\n");
});

test("a request to a stopped server starts it and waits for it", async () => {
  const setup = await started();
  const { servers, frames } = setup;
  setup.clock.advance(QUICK_STOP_MS);
  servers.apply({ type: "lsp_state", server: "python", state: "stopped" });
  const answer = servers.request("python", "textDocument/hover", {});
  assert.deepEqual(sent(frames), ["initialize"]);
  await answerInitialize(setup, "python");
  assert.deepEqual(sent(frames), ["initialize", "initialized", "workspace/didChangeConfiguration",
    "textDocument/didOpen", "textDocument/hover"]);
  servers.apply({ type: "lsp", server: "python", message: { jsonrpc: "2.0", id: frames[4].message.id, result: null } });
  assert.equal(await answer, null);
});

test("an unavailable server is asked again only after RETRY_MS, on an edit", async () => {
  const { servers, frames, project, clock } = await started();
  servers.apply({ type: "lsp_state", server: "python", state: "unavailable", message: "too many servers" });
  project.set("main.py", "a");
  servers.schedule();
  clock.advance(CHANGE_DELAY_MS);
  assert.deepEqual(frames, []);
  clock.advance(RETRY_MS);
  servers.sync();
  assert.deepEqual(sent(frames), ["initialize"]);
});

test("a server that stops while it starts, or soon after, is not started again on each edit", async () => {
  const { servers, frames, project, clock } = await started();
  const edit = (text) => {
    project.set("main.py", text);
    servers.schedule();
    clock.advance(CHANGE_DELAY_MS);
  };
  clock.advance(QUICK_STOP_MS - 1000);
  servers.apply({ type: "lsp_state", server: "python", state: "stopped", message: "it crashed" });
  edit("a");
  assert.deepEqual(frames, [], "a crash: no restart at once");
  assert.equal(await servers.request("python", "textDocument/hover", {}), null);
  assert.deepEqual(frames, [], "nor for a request");
  clock.advance(RETRY_MS);
  edit("b");
  assert.deepEqual(sent(frames), ["initialize"]);
  servers.apply({ type: "lsp_state", server: "python", state: "stopped", message: "no pylsp" });
  edit("c");
  assert.deepEqual(sent(frames), ["initialize"], "it stopped before it started: no restart at once");
  servers.disconnect();
  servers.connect();
  assert.deepEqual(sent(frames), ["initialize", "initialize"], "a new socket tries again");
});

test("a dropped socket takes its servers; the next socket starts the open file's again", async () => {
  const { servers, frames, clock, project } = await started();
  servers.disconnect();
  project.set("main.py", "b");
  servers.schedule();
  clock.advance(CHANGE_DELAY_MS);
  assert.deepEqual(frames, [], "nothing is sent without a socket");
  assert.equal(await servers.request("python", "textDocument/hover", {}), null);
  servers.connect();
  assert.deepEqual(sent(frames), ["initialize"]);
});
