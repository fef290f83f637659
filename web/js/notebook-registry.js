// The page's notebooks and the routing of the socket's frames to them (no DOM; tested in
// web/tests/notebook-state.test.js with the sessions they hold).

import { NotebookSession } from "./notebook-state.js";

/**
 * The page's notebooks, by path, and the routing of frames to them: by ``notebookId`` when the
 * frame has one, else by the request or execution it answers.
 */
export class Notebooks {
  constructor() {
    /** @type {Map<string, NotebookSession>} notebookId → session */
    this.sessions = new Map();
    this.counter = 0;
    this.connected = false;
    this.requestId = () => {
      this.counter += 1;
      return `nb-${this.counter}`;
    };
  }

  byPath(path) {
    for (const session of this.sessions.values()) if (session.path === path) return session;
    return null;
  }

  /** Track a notebook opened in the page; notebook_open goes out now when the socket is up. */
  add(path, notebook) {
    const session = new NotebookSession({ path, notebook, requestId: this.requestId });
    this.sessions.set(session.notebookId, session);
    return { session, ...(this.connected ? session.open() : { changes: [{ kind: "kernel" }], frames: [] }) };
  }

  /** The notebook at ``path`` is gone (deleted, renamed to another type, replaced). */
  remove(path) {
    const session = this.byPath(path);
    if (!session) return null;
    this.sessions.delete(session.notebookId);
    return { session, ...session.close() };
  }

  /** A file was renamed: its notebook keeps its kernel (and its notebookId). */
  rename(from, to) {
    const session = this.byPath(from);
    if (session) session.path = to;
  }

  /** Route a frame: ``{session, changes, frames}``, or null when no notebook takes it. */
  apply(frame) {
    let session = frame.notebookId !== undefined ? this.sessions.get(frame.notebookId) : undefined;
    if (!session) session = [...this.sessions.values()].find((s) => s.owns(frame));
    const result = session?.apply(frame);
    return result ? { session, ...result } : null;
  }

  connectionLost() {
    this.connected = false;
    return [...this.sessions.values()].map((session) => ({ session, ...session.connectionLost() }));
  }

  sessionStarted(resumed) {
    this.connected = true;
    return [...this.sessions.values()].map((session) => ({ session, ...session.sessionStarted(resumed) }));
  }
}
