// One language server as the IDE speaks to it over the socket (the frames {"type": "lsp",
// "server", "message"}; docs/ide.md, Code intelligence). JSON-RPC 2.0: the IDE's requests by id,
// each with a time limit, so no provider waits for ever; the server's requests answered; the
// project's files of its languages kept open on the server with didOpen, didChange (the full
// text) and didClose; diagnostics as the server publishes them, or asked for after each change
// from a server that wants them pulled (textDocument/diagnostic: TypeScript 7's). No DOM:
// web/tests/lsp-client.test.js drives it with fake timers.

import { SERVERS, languageIdOf, pathOf, uriOf } from "./lsp-convert.js";

/** A request with no answer by then is given up (cancelled on the server, answered null); a
 * first completion waits for the server to load modules (jedi: 1-3 s, many more on a busy machine).
 * Monaco cancels the requests that typing made stale long before. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Starting a server (a sandbox, then the server's own start) may take this long. */
export const START_TIMEOUT_MS = 60_000;
export const METHOD_NOT_FOUND = -32601;
/** The edge takes a message of at most 1 MiB of JSON (UTF-8): a larger file is not sent. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
const ENVELOPE_BYTES = 4096; // the rest of a didOpen/didChange around the text

/** What the IDE can do with the servers' answers (sent with initialize). */
export const CLIENT_CAPABILITIES = {
  general: { positionEncodings: ["utf-16"] },
  workspace: { configuration: true, workspaceFolders: false },
  textDocument: {
    synchronization: { didSave: false, willSave: false, dynamicRegistration: false },
    completion: {
      contextSupport: true,
      completionItem: {
        snippetSupport: true,
        documentationFormat: ["markdown", "plaintext"],
        deprecatedSupport: true,
        preselectSupport: true,
        labelDetailsSupport: true,
        insertReplaceSupport: true,
        tagSupport: { valueSet: [1] },
        resolveSupport: { properties: ["documentation", "detail", "additionalTextEdits"] },
      },
    },
    hover: { contentFormat: ["markdown", "plaintext"] },
    signatureHelp: {
      contextSupport: true,
      signatureInformation: {
        documentationFormat: ["markdown", "plaintext"],
        parameterInformation: { labelOffsetSupport: true },
        activeParameterSupport: true,
      },
    },
    definition: { linkSupport: true },
    publishDiagnostics: { tagSupport: { valueSet: [1, 2] }, versionSupport: false },
    diagnostic: { dynamicRegistration: false, relatedDocumentSupport: false },
  },
};

/** Whether a didOpen/didChange of ``text`` would pass the edge's limit. */
export function tooLarge(text) {
  // A UTF-16 unit takes 6 bytes at most in JSON (\u001f): only long texts are worth measuring.
  if (text.length * 6 + ENVELOPE_BYTES <= MAX_MESSAGE_BYTES) return false;
  return new TextEncoder().encode(JSON.stringify(text)).length + ENVELOPE_BYTES > MAX_MESSAGE_BYTES;
}

export class LspClient {
  /**
   * @param {{server: string, send: (message: object) => boolean,
   *   documents: () => Map<string, string>, timers?: {setTimeout: Function, clearTimeout: Function}}} options
   *   ``send`` puts one JSON-RPC message on the socket (false: not connected); ``documents``
   *   gives the project's files of this server's languages, path → text.
   */
  constructor({ server, send, documents, timers = globalThis }) {
    this.server = server;
    this.sendMessage = send;
    this.documents = documents;
    this.timers = timers;
    /** idle (never started, or the socket changed) | starting | running | stopped | unavailable */
    this.state = "idle";
    /** Why it is stopped or unavailable, in words. */
    this.message = "";
    /** The edge's word on the process (lsp_state): starting | ready | "" */
    this.phase = "";
    this.capabilities = null;
    this.nextId = 1;
    this.generation = 0;
    /** @type {Map<number, {resolve: Function, timer: any, sent: boolean, message: object}>} */
    this.pending = new Map();
    /** @type {Map<string, {version: number, text: string}>} what the server has open */
    this.docs = new Map();
    /** @type {Map<string, number>} path → the latest diagnostic pull's number (older answers are stale) */
    this.pulls = new Map();
    this.listeners = { state: [], diagnostics: [], ready: [] };
  }

  /** ``state`` (changed), ``diagnostics`` (path or null for all, diagnostics), ``ready`` (capabilities). */
  on(kind, listener) {
    this.listeners[kind].push(listener);
    return this;
  }

  emit(kind, ...values) {
    for (const listener of this.listeners[kind]) listener(...values);
  }

  get active() { return this.state === "starting" || this.state === "running"; }

  /** Start the server: ``initialize``, and once answered ``initialized`` and every file's didOpen. */
  start() {
    if (this.active) return;
    this.generation += 1;
    const generation = this.generation;
    this.docs.clear(); // a new process knows no document
    this.capabilities = null;
    this.setState("starting", "");
    this.call("initialize", {
      processId: null,
      clientInfo: { name: "CodeRunner IDE" },
      rootUri: "file:///workspace",
      rootPath: "/workspace",
      workspaceFolders: null,
      capabilities: CLIENT_CAPABILITIES,
    }, { timeoutMs: START_TIMEOUT_MS, early: true }).then((answer) => {
      if (generation !== this.generation || this.state !== "starting") return;
      if (answer.error) this.stop(`it did not start: ${answer.error.message}`);
      else this.initialized(answer.result);
    });
  }

  initialized(result) {
    this.capabilities = result?.capabilities ?? {};
    this.notify("initialized", {});
    const settings = SERVERS[this.server]?.settings;
    if (settings) this.notify("workspace/didChangeConfiguration", { settings });
    this.setState("running", "");
    this.sync();
    for (const [id, request] of this.pending) {
      if (!request.sent) this.put(id, request);
    }
    this.emit("ready", this.capabilities);
  }

  /**
   * Ask the server; resolves with its result, or null when it answered an error, took longer
   * than ``REQUEST_TIMEOUT_MS``, was cancelled (``token``: Monaco's CancellationToken) or the
   * server went. Made while it starts, a request is sent once it runs.
   */
  async request(method, params, token = null) {
    if (!this.active || token?.isCancellationRequested) return null;
    const answer = await this.call(method, params, { timeoutMs: REQUEST_TIMEOUT_MS, token });
    return answer.error ? null : answer.result ?? null;
  }

  /** A request's answer: {result} or {error} (a timeout, a cancel or a stop are errors too). */
  call(method, params, { timeoutMs, token = null, early = false }) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const message = { jsonrpc: "2.0", id, method, params };
      const request = { resolve, sent: false, message, timer: null, listener: null };
      request.timer = this.timers.setTimeout(() => this.cancel(id, "timed out"), timeoutMs);
      this.pending.set(id, request);
      request.listener = token?.onCancellationRequested?.(() => this.cancel(id, "cancelled")) ?? null;
      if (early || this.state === "running") this.put(id, request);
    });
  }

  put(id, request) {
    request.sent = true;
    if (!this.sendMessage(request.message)) this.finish(id, { error: { message: "not connected" } });
  }

  /** Give up request ``id``: the server is told ($/cancelRequest) when it has it. */
  cancel(id, why) {
    const request = this.pending.get(id);
    if (!request) return;
    if (request.sent && this.state === "running") this.notify("$/cancelRequest", { id });
    this.finish(id, { error: { message: why } }); // an initialize's: start() stops the server
  }

  finish(id, answer) {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    this.timers.clearTimeout(request.timer);
    request.listener?.dispose?.();
    request.resolve(answer);
  }

  notify(method, params) {
    return this.sendMessage({ jsonrpc: "2.0", method, params });
  }

  /** One message from the server: an answer, a notification or a request of its own. */
  receive(message) {
    if (!message || typeof message !== "object") return;
    if (typeof message.method === "string") {
      if (message.id !== undefined && message.id !== null) this.answer(message);
      else if (message.method === "textDocument/publishDiagnostics") this.diagnostics(message.params);
      return; // other notifications (log, progress, showMessage) are not shown
    }
    if (typeof message.id === "number") {
      this.finish(message.id, message.error ? { error: message.error } : { result: message.result });
    }
  }

  /** The server's requests: its configuration is the default (null per item); others unknown. */
  answer({ id, method, params }) {
    if (method === "workspace/configuration") {
      const items = Array.isArray(params?.items) ? params.items : [];
      this.sendMessage({ jsonrpc: "2.0", id, result: items.map(() => null) });
    } else {
      this.sendMessage({ jsonrpc: "2.0", id,
        error: { code: METHOD_NOT_FOUND, message: `The IDE does not handle ${method}` } });
    }
  }

  diagnostics(params) {
    const path = pathOf(params?.uri);
    if (path === null || !this.active || !Array.isArray(params.diagnostics)) return;
    this.emit("diagnostics", path, params.diagnostics);
  }

  /** Tell the server what changed in the project's files since the last sync. */
  sync() {
    if (this.state !== "running") return;
    const wanted = this.documents();
    const changed = [];
    for (const path of [...this.docs.keys()]) {
      const text = wanted.get(path);
      if (text === undefined || tooLarge(text)) {
        this.docs.delete(path);
        this.notify("textDocument/didClose", { textDocument: { uri: uriOf(path) } });
        if (this.pulled) this.emit("diagnostics", path, []); // a pulling server says nothing more of it
      }
    }
    for (const [path, text] of wanted) {
      const doc = this.docs.get(path);
      if (doc === undefined) {
        if (tooLarge(text)) continue;
        this.docs.set(path, { version: 1, text });
        this.notify("textDocument/didOpen", {
          textDocument: { uri: uriOf(path), languageId: languageIdOf(path), version: 1, text },
        });
        changed.push(path);
      } else if (doc.text !== text) {
        doc.version += 1;
        doc.text = text;
        this.notify("textDocument/didChange", {
          textDocument: { uri: uriOf(path), version: doc.version }, contentChanges: [{ text }],
        });
        changed.push(path);
      }
    }
    if (changed.length) this.pull(changed);
  }

  /** Whether the server wants its diagnostics asked for (textDocument/diagnostic). */
  get pulled() { return Boolean(this.capabilities?.diagnosticProvider); }

  /** Ask a pulling server for the diagnostics of ``changed`` files (of every file when one
   * file's change may change another's); an answer older than the latest asked is dropped. */
  pull(changed) {
    if (!this.pulled) return;
    const paths = this.capabilities.diagnosticProvider.interFileDependencies ? [...this.docs.keys()] : changed;
    for (const path of paths) {
      const number = (this.pulls.get(path) ?? 0) + 1;
      this.pulls.set(path, number);
      this.request("textDocument/diagnostic", { textDocument: { uri: uriOf(path) } }).then((report) => {
        if (this.pulls.get(path) !== number || !this.docs.has(path) || this.state !== "running") return;
        if (report?.kind === "full" && Array.isArray(report.items)) this.emit("diagnostics", path, report.items);
      });
    }
  }

  /** Whether the project's files differ from what the server last had (an edit since). */
  differs() {
    const wanted = this.documents();
    if (wanted.size !== this.docs.size) return true;
    for (const [path, text] of wanted) if (this.docs.get(path)?.text !== text) return true;
    return false;
  }

  /** The edge's word on the server process (an lsp_state frame). */
  serverState(state, message = "") {
    if (state === "starting" || state === "ready") {
      this.phase = state;
      this.emit("state", this.state);
    } else if (state === "stopped") {
      if (this.active) this.stop(message || "it stopped");
    } else if (state === "unavailable") {
      this.stop(message || "there is none", "unavailable");
    }
  }

  /** The server went (or never came): pending requests answer null, its markers go. */
  stop(message, state = "stopped") {
    this.generation += 1;
    this.phase = "";
    for (const id of [...this.pending.keys()]) this.finish(id, { error: { message } });
    this.emit("diagnostics", null, []);
    this.setState(state, message);
  }

  /** The socket dropped: whatever ran on it is gone; the next socket starts afresh. */
  lost() {
    this.stop("the connection was lost", "idle");
  }

  setState(state, message) {
    this.state = state;
    this.message = message;
    this.emit("state", state);
  }
}
