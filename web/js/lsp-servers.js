// The page's language servers (python, typescript, cpp): which to start and when, the project's
// edits passed on at most every CHANGE_DELAY_MS, and the socket's lsp and lsp_state frames
// routed to them. A server starts when a file of its languages is open and the socket is up;
// one that stopped (idle) starts again on the next edit or request; one that is unavailable,
// or stopped before it started or within QUICK_STOP_MS of it (a crash, not to be repeated on
// every keystroke), is asked again after RETRY_MS. No DOM: web/tests/lsp-servers.test.js.

import { LspClient } from "./lsp-client.js";
import { SERVERS, serverFor } from "./lsp-convert.js";

/** Typing is passed on to the servers this long after it pauses (and at once before a request). */
export const CHANGE_DELAY_MS = 150;
export const RETRY_MS = 60_000;
export const QUICK_STOP_MS = 30_000;

export class LanguageServers {
  /**
   * @param {{send: (frame: object) => boolean, files: () => Map<string, string>,
   *   openPath: () => string | null, timers?: {setTimeout: Function, clearTimeout: Function},
   *   now?: () => number}} options
   *   ``files``: the project's files, path → text; ``openPath``: the file open in the editor.
   */
  constructor({ send, files, openPath, timers = globalThis, now = () => Date.now() }) {
    this.files = files;
    this.openPath = openPath;
    this.timers = timers;
    this.now = now;
    this.connected = false;
    /** False until the editor is there to show what the servers say (enable()). */
    this.enabled = false;
    this.timer = null;
    this.watchers = [];
    this.lastOpen = null;
    /** @type {Map<string, number>} server → when one that failed may be started again */
    this.retryAt = new Map();
    /** @type {Map<string, number>} server → when it last began running */
    this.runningSince = new Map();
    /** @type {Map<string, LspClient>} */
    this.clients = new Map(Object.keys(SERVERS).map((server) => [server, new LspClient({
      server, timers,
      send: (message) => send({ type: "lsp", server, message }),
      documents: () => this.documentsOf(server),
    })]));
    for (const [server, client] of this.clients) {
      let before = client.state;
      client.on("state", (state) => {
        if (state !== before) this.changed(server, before, state);
        before = state;
      });
    }
  }

  client(server) { return this.clients.get(server); }

  changed(server, before, state) {
    const now = this.now();
    if (state === "running") this.runningSince.set(server, now);
    const failed = state === "unavailable" || (state === "stopped" && (before === "starting"
      || now - (this.runningSince.get(server) ?? 0) < QUICK_STOP_MS));
    if (failed) this.retryAt.set(server, now + RETRY_MS);
  }

  /** Whether ``server`` failed lately and waits before it is started again. */
  waiting(server) {
    return this.now() < (this.retryAt.get(server) ?? 0);
  }

  /** The editor is up: servers may start. */
  enable() {
    this.enabled = true;
    this.sync();
  }

  /** ``listener()`` after each sync (the open file may have changed). */
  watch(listener) {
    this.watchers.push(listener);
  }

  /** ``kind``: a client's event (state, diagnostics, ready), with the server's name first. */
  on(kind, listener) {
    for (const [server, client] of this.clients) client.on(kind, (...values) => listener(server, ...values));
    return this;
  }

  documentsOf(server) {
    const mine = new Map();
    for (const [path, text] of this.files()) if (serverFor(path) === server) mine.set(path, text);
    return mine;
  }

  /** A socket frame for the servers (true), or another (false). */
  apply(frame) {
    if (frame.type !== "lsp" && frame.type !== "lsp_state") return false;
    const client = this.clients.get(frame.server);
    if (!client) return true; // a server this page does not know: nothing to do
    if (frame.type === "lsp") client.receive(frame.message);
    else client.serverState(frame.state, frame.message ?? "");
    return true;
  }

  /** The socket is open (a session frame): servers start for the open file. */
  connect() {
    this.connected = true;
    this.sync();
  }

  /** The socket dropped: its servers are gone with it. */
  disconnect() {
    this.connected = false;
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    for (const client of this.clients.values()) client.lost();
    this.retryAt.clear(); // a new socket tries each server once more
  }

  /** The project changed (typing, a file made or removed, another file opened): sync soon. */
  schedule() {
    this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => this.sync(), CHANGE_DELAY_MS);
  }

  /** Pass the changes on now; start the servers that the open file or an edit wants. */
  sync() {
    this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.connected && this.enabled) this.startAndSync();
    for (const listener of this.watchers) listener();
  }

  startAndSync() {
    const open = this.openPath();
    const opened = open !== this.lastOpen;
    this.lastOpen = open;
    const wanted = open === null ? null : serverFor(open);
    for (const [server, client] of this.clients) {
      if (client.state === "running") client.sync();
      else if (server === wanted && this.mayStart(server, client, opened)) client.start();
    }
  }

  mayStart(server, client, opened) {
    if (client.state === "idle") return true;
    if (client.state === "starting" || this.waiting(server)) return false;
    return opened || client.differs();
  }

  /** A request of a provider; the server is started for it when it stopped. Resolves null on failure. */
  request(server, method, params, token = null) {
    const client = this.clients.get(server);
    this.sync();
    if (!this.connected || !this.enabled) return Promise.resolve(null);
    if ((client.state === "idle" || client.state === "stopped") && !this.waiting(server)) client.start();
    return client.request(method, params, token);
  }
}
