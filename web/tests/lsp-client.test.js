import assert from "node:assert/strict";
import { test } from "node:test";

import {
  LspClient, MAX_MESSAGE_BYTES, METHOD_NOT_FOUND, REQUEST_TIMEOUT_MS, START_TIMEOUT_MS,
} from "../js/lsp-client.js";
import { FakeClock, settle } from "./lsp-fakes.js";

/** A client for "python" over a fake wire; ``files`` is the project's, path → text. */
function setUp(files = { "main.py": "import os\n", "lib/util.py": "def half(x):\n    return x / 2\n" }) {
  const clock = new FakeClock();
  const sent = [];
  const project = new Map(Object.entries(files));
  const wire = { open: true };
  const client = new LspClient({
    server: "python", timers: clock, documents: () => project,
    send: (message) => {
      if (!wire.open) return false;
      sent.push(structuredClone(message));
      return true;
    },
  });
  const events = [];
  client.on("state", (s) => events.push(["state", s]));
  client.on("diagnostics", (path, d) => events.push(["diagnostics", path, d]));
  client.on("ready", (caps) => events.push(["ready", caps]));
  return { clock, sent, project, client, events, wire };
}

const methods = (sent) => sent.map((m) => m.method ?? `answer ${m.id}`);

/** Start the client and answer its initialize. */
async function running(setup, capabilities = { completionProvider: { triggerCharacters: ["."] } }) {
  setup.client.start();
  const init = setup.sent[0];
  setup.client.receive({ jsonrpc: "2.0", id: init.id, result: { capabilities } });
  await settle();
  setup.sent.length = 0;
  return setup;
}

test("start: initialize alone, then initialized and every file's didOpen once answered", async () => {
  const { client, sent, events } = setUp();
  client.start();
  client.start(); // starting already: nothing more
  assert.equal(client.state, "starting");
  assert.deepEqual(methods(sent), ["initialize"]);
  const init = sent[0];
  assert.equal(init.jsonrpc, "2.0");
  assert.equal(init.params.rootUri, "file:///workspace");
  assert.equal(init.params.capabilities.workspace.configuration, true);
  assert.equal(init.params.capabilities.textDocument.completion.completionItem.snippetSupport, true);
  client.receive({ jsonrpc: "2.0", id: init.id, result: { capabilities: { hoverProvider: true } } });
  await settle();
  assert.equal(client.state, "running");
  assert.deepEqual(methods(sent), ["initialize", "initialized", "workspace/didChangeConfiguration",
    "textDocument/didOpen", "textDocument/didOpen"]);
  assert.equal(sent[2].params.settings.pylsp.plugins.pycodestyle.enabled, false);
  assert.deepEqual(sent[3].params.textDocument,
    { uri: "file:///workspace/main.py", languageId: "python", version: 1, text: "import os\n" });
  assert.equal(sent[4].params.textDocument.uri, "file:///workspace/lib/util.py");
  assert.deepEqual(events.at(-1), ["ready", { hoverProvider: true }]);
});

test("requests get increasing ids and each answer goes to its own request", async () => {
  const setup = await running(setUp());
  const { client, sent } = setup;
  const first = client.request("textDocument/hover", { n: 1 });
  const second = client.request("textDocument/completion", { n: 2 });
  const [a, b] = sent;
  assert.ok(b.id > a.id, "ids increase");
  assert.equal(a.method, "textDocument/hover");
  client.receive({ jsonrpc: "2.0", id: b.id, result: { items: ["two"] } });
  client.receive({ jsonrpc: "2.0", id: a.id, result: { contents: "one" } });
  assert.deepEqual(await first, { contents: "one" });
  assert.deepEqual(await second, { items: ["two"] });
  client.receive({ jsonrpc: "2.0", id: a.id, result: "again" }); // a second answer: ignored
  assert.equal(client.pending.size, 0);
});

test("a request made while the server starts is sent after its files are open", async () => {
  const { client, sent } = setUp({ "main.py": "x" });
  client.start();
  const answer = client.request("textDocument/completion", {});
  assert.deepEqual(methods(sent), ["initialize"]);
  client.receive({ jsonrpc: "2.0", id: sent[0].id, result: { capabilities: {} } });
  await settle();
  assert.deepEqual(methods(sent), ["initialize", "initialized", "workspace/didChangeConfiguration",
    "textDocument/didOpen", "textDocument/completion"]);
  client.receive({ jsonrpc: "2.0", id: sent[4].id, result: [] });
  assert.deepEqual(await answer, []);
});

test("an unanswered request times out: null for the editor, $/cancelRequest for the server", async () => {
  const setup = await running(setUp());
  const { client, sent, clock } = setup;
  const answer = client.request("textDocument/completion", {});
  const id = sent[0].id;
  clock.advance(REQUEST_TIMEOUT_MS - 1);
  assert.equal(client.pending.size, 1);
  clock.advance(1);
  assert.equal(await answer, null);
  assert.deepEqual(sent[1], { jsonrpc: "2.0", method: "$/cancelRequest", params: { id } });
  client.receive({ jsonrpc: "2.0", id, result: { items: [] } }); // late: nobody waits for it
  assert.equal(client.state, "running");
});

test("an error answer and a cancelled request both give null", async () => {
  const setup = await running(setUp());
  const { client, sent } = setup;
  const failed = client.request("textDocument/hover", {});
  client.receive({ jsonrpc: "2.0", id: sent[0].id, error: { code: -32603, message: "boom" } });
  assert.equal(await failed, null);
  let cancel = null;
  const token = { isCancellationRequested: false,
    onCancellationRequested: (fn) => { cancel = fn; return { dispose: () => { cancel = null; } }; } };
  const cancelled = client.request("textDocument/completion", {}, token);
  const id = sent[1].id;
  cancel();
  assert.equal(await cancelled, null);
  assert.deepEqual(sent[2], { jsonrpc: "2.0", method: "$/cancelRequest", params: { id } });
  assert.equal(cancel, null, "the token's listener is disposed");
  assert.equal(await client.request("x", {}, { isCancellationRequested: true }), null);
  assert.equal(sent.length, 3, "a request cancelled before it is made is not sent");
});

test("the server's requests: configuration gets a null per item, others MethodNotFound", async () => {
  const setup = await running(setUp());
  const { client, sent } = setup;
  client.receive({ jsonrpc: "2.0", id: 7, method: "workspace/configuration",
    params: { items: [{ section: "python" }, { section: "python.analysis" }] } });
  client.receive({ jsonrpc: "2.0", id: "w1", method: "window/workDoneProgress/create", params: { token: "t" } });
  client.receive({ jsonrpc: "2.0", method: "window/logMessage", params: { type: 3, message: "hi" } });
  assert.deepEqual(sent, [
    { jsonrpc: "2.0", id: 7, result: [null, null] },
    { jsonrpc: "2.0", id: "w1", error: { code: METHOD_NOT_FOUND, message: "The IDE does not handle window/workDoneProgress/create" } },
  ]);
});

test("publishDiagnostics names the project file; a library's is ignored", async () => {
  const setup = await running(setUp());
  const { client, events } = setup;
  const diagnostics = [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } }, message: "m" }];
  client.receive({ jsonrpc: "2.0", method: "textDocument/publishDiagnostics",
    params: { uri: "file:///workspace/lib/util.py", diagnostics } });
  client.receive({ jsonrpc: "2.0", method: "textDocument/publishDiagnostics",
    params: { uri: "file:///usr/lib/python3/os.py", diagnostics } });
  assert.deepEqual(events.filter((e) => e[0] === "diagnostics"), [["diagnostics", "lib/util.py", diagnostics]]);
});

test("sync: didChange with the full text and the next version, didClose and didOpen for a rename", async () => {
  const setup = await running(setUp());
  const { client, sent, project } = setup;
  client.sync();
  assert.deepEqual(sent, [], "nothing changed, nothing sent");
  project.set("main.py", "import os\nos.");
  client.sync();
  client.sync();
  assert.deepEqual(sent, [{ jsonrpc: "2.0", method: "textDocument/didChange", params: {
    textDocument: { uri: "file:///workspace/main.py", version: 2 }, contentChanges: [{ text: "import os\nos." }] } }]);
  sent.length = 0;
  project.set("lib/helpers.py", project.get("lib/util.py"));
  project.delete("lib/util.py");
  client.sync();
  assert.deepEqual(sent.map((m) => [m.method, m.params.textDocument.uri]), [
    ["textDocument/didClose", "file:///workspace/lib/util.py"],
    ["textDocument/didOpen", "file:///workspace/lib/helpers.py"],
  ]);
  assert.equal(client.differs(), false);
  project.set("main.py", "changed");
  assert.equal(client.differs(), true);
});

test("a file past the edge's message limit (bytes of JSON) is not sent", async () => {
  const setup = await running(setUp({
    "main.py": "small", "big.py": "x".repeat(MAX_MESSAGE_BYTES), "ok.py": "é".repeat(MAX_MESSAGE_BYTES / 4),
  }));
  const { client, sent, project } = setup;
  assert.deepEqual([...client.docs.keys()], ["main.py", "ok.py"]);
  project.set("main.py", "\"".repeat(MAX_MESSAGE_BYTES / 2)); // each escaped as \" : twice as long
  project.set("ok.py", "é".repeat(MAX_MESSAGE_BYTES / 2)); // 2 bytes each in UTF-8
  client.sync();
  assert.deepEqual(sent.map((m) => m.method), ["textDocument/didClose", "textDocument/didClose"]);
  assert.equal(client.docs.size, 0);
});

test("stopped: pending requests answer null and the server's markers go", async () => {
  const setup = await running(setUp());
  const { client, events } = setup;
  const answer = client.request("textDocument/hover", {});
  client.serverState("ready");
  assert.equal(client.phase, "ready");
  client.serverState("stopped", "idle for 300 s");
  assert.equal(await answer, null);
  assert.equal(client.state, "stopped");
  assert.equal(client.message, "idle for 300 s");
  assert.deepEqual(events.filter((e) => e[0] === "diagnostics"), [["diagnostics", null, []]]);
  assert.equal(await client.request("textDocument/hover", {}), null, "no request to a stopped server");
});

test("unavailable says why; a server that fails or never answers initialize is stopped", async () => {
  const a = setUp();
  a.client.start();
  a.client.serverState("unavailable", "no language server for python is installed");
  assert.equal(a.client.state, "unavailable");
  assert.equal(a.client.message, "no language server for python is installed");

  const b = setUp();
  b.client.start();
  b.client.receive({ jsonrpc: "2.0", id: b.sent[0].id, error: { code: -32603, message: "crashed" } });
  await settle();
  assert.equal(b.client.state, "stopped");
  assert.equal(b.client.message, "it did not start: crashed");

  const c = setUp();
  c.client.start();
  c.clock.advance(START_TIMEOUT_MS);
  await settle();
  assert.equal(c.client.state, "stopped");
  c.client.receive({ jsonrpc: "2.0", id: c.sent[0].id, result: { capabilities: {} } }); // too late
  await settle();
  assert.equal(c.client.state, "stopped");
});

test("a restart opens every file again, from version 1", async () => {
  const setup = await running(setUp({ "main.py": "a" }));
  const { client, sent, project } = setup;
  project.set("main.py", "ab");
  client.sync();
  client.lost();
  assert.equal(client.state, "idle");
  sent.length = 0;
  client.start();
  client.receive({ jsonrpc: "2.0", id: sent[0].id, result: { capabilities: {} } });
  await settle();
  assert.deepEqual(sent[3].params.textDocument, { uri: "file:///workspace/main.py", languageId: "python", version: 1, text: "ab" });
});

test("a send refused (no socket) answers the request null at once", async () => {
  const setup = await running(setUp());
  setup.wire.open = false;
  assert.equal(await setup.client.request("textDocument/hover", {}), null);
  assert.equal(setup.client.pending.size, 0);
});

test("a server that wants diagnostics pulled is asked after each change; a stale answer is dropped", async () => {
  const setup = setUp({ "main.ts": "let x: number = 1;\n" });
  const { client, sent, project, events } = setup;
  client.start();
  client.receive({ jsonrpc: "2.0", id: sent[0].id,
    result: { capabilities: { diagnosticProvider: { interFileDependencies: false } } } });
  await settle();
  const pulls = () => sent.filter((m) => m.method === "textDocument/diagnostic");
  assert.deepEqual(pulls().map((m) => m.params), [{ textDocument: { uri: "file:///workspace/main.ts" } }],
    "after the didOpen");
  const item = (message) => ({ range: { start: { line: 0, character: 4 }, end: { line: 0, character: 5 } }, message });
  project.set("main.ts", "let x: number = 'a';\n");
  client.sync();
  const [first, second] = pulls();
  assert.ok(second.id > first.id);
  client.receive({ jsonrpc: "2.0", id: second.id, result: { kind: "full", items: [item("not a number")] } });
  client.receive({ jsonrpc: "2.0", id: first.id, result: { kind: "full", items: [] } }); // older: dropped
  await settle();
  assert.deepEqual(events.filter((e) => e[0] === "diagnostics"), [["diagnostics", "main.ts", [item("not a number")]]]);
  project.set("main.ts", "let x: number = 2;\n");
  client.sync();
  client.receive({ jsonrpc: "2.0", id: pulls()[2].id, result: { kind: "unchanged", resultId: "r1" } });
  await settle();
  assert.equal(events.filter((e) => e[0] === "diagnostics").length, 1, "unchanged: the markers stay");
  project.delete("main.ts");
  client.sync();
  assert.deepEqual(events.at(-1), ["diagnostics", "main.ts", []], "a closed file's markers go");
});

test("with inter-file dependencies every open file is asked again", async () => {
  const setup = setUp({ "a.ts": "export const a = 1;\n", "b.ts": "import { a } from './a';\n" });
  const { client, sent, project } = setup;
  client.start();
  client.receive({ jsonrpc: "2.0", id: sent[0].id,
    result: { capabilities: { diagnosticProvider: { interFileDependencies: true } } } });
  await settle();
  sent.length = 0;
  project.set("a.ts", "export const b = 1;\n");
  client.sync();
  assert.deepEqual(sent.filter((m) => m.method === "textDocument/diagnostic").map((m) => m.params.textDocument.uri),
    ["file:///workspace/a.ts", "file:///workspace/b.ts"]);
});
