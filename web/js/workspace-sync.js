// The project kept in a workspace on the server (docs/workspaces.md), as well as in the
// browser: every change is saved there a moment after typing stops; while the server cannot
// be reached the browser's copy is the one edited, and it is reconciled when the server is
// back. No edit is lost: a file changed both here and elsewhere keeps both versions, the other
// one as a file of its own beside it ("main (conflict r7).py"). No DOM here.

export const WORKSPACE_KEY = "coderunner.workspace.v1";
export const SYNC_DELAY_MS = 800;
export const RETRY_MS = 3000;
export const POLL_MS = 5000;
/** How often a visible page asks for what changed elsewhere (another tab, another machine). */

const api = (id) => `/api/v1/workspaces/${encodeURIComponent(id)}`;
const filePath = (path) => path.split("/").map(encodeURIComponent).join("/");
const OCTETS = { "Content-Type": "application/octet-stream" };

/** A new workspace id for a first visit: letters and digits, as the server wants. */
export function newWorkspaceId(random = Math.random) {
  return `ide-${Array.from({ length: 12 }, () => Math.floor(random() * 36).toString(36)).join("")}`;
}

/** ``main.py`` → ``main (conflict r7).py``: where the other version of a conflict goes. */
export function conflictPath(path, revision, taken = () => false) {
  const slash = path.lastIndexOf("/") + 1;
  const dot = path.lastIndexOf(".");
  const [stem, ext] = dot > slash ? [path.slice(0, dot), path.slice(dot)] : [path, ""];
  let candidate = `${stem} (conflict r${revision})${ext}`;
  for (let n = 2; taken(candidate); n += 1) candidate = `${stem} (conflict r${revision}, ${n})${ext}`;
  return candidate;
}

class Unreachable extends Error {}
class Refused extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Keeps one workspace and the browser's project in step. ``synced`` is the last content both
 * sides agreed on, per file, with the server's hash: a file whose content differs from it was
 * edited here; a server file whose hash differs from it was edited elsewhere.
 */
export class WorkspaceSync {
  constructor({ fetch, storage, id, project, apply, onState }) {
    this.fetch = fetch;
    this.storage = storage;
    this.project = project; // () => the current Project
    this.apply = apply; // (changes: [{path, content|null}], conflicts: [path]) after a pull
    this.onState = onState; // ({state, revision, message})
    const stored = this.load();
    this.id = id ?? stored?.id ?? newWorkspaceId();
    const same = stored && stored.id === this.id;
    this.revision = same ? stored.revision : 0;
    /** @type {Map<string, {sha: string, content: string}>} */
    this.synced = new Map(same ? Object.entries(stored.synced ?? {}) : []);
    this.timer = null;
    this.running = null;
    this.again = false;
    this.state = "idle";
    this.off = false;
  }

  load() {
    try {
      return JSON.parse(this.storage.getItem(WORKSPACE_KEY) ?? "null");
    } catch {
      return null;
    }
  }

  store() {
    try {
      this.storage.setItem(WORKSPACE_KEY, JSON.stringify({
        id: this.id, revision: this.revision, synced: Object.fromEntries(this.synced) }));
    } catch { /* storage refused: the next visit starts from the server */ }
  }

  say(state, message = "") {
    this.state = state;
    this.onState({ state, revision: this.revision, message, id: this.id });
  }

  /** Sync a moment after the last change. */
  schedule(delay = SYNC_DELAY_MS) {
    if (this.off) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.sync(), delay);
  }

  /** Pull what changed on the server, then push what changed here; one at a time. */
  async sync() {
    if (this.off) return;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.round().finally(() => { this.running = null; });
    await this.running;
    if (this.again) {
      this.again = false;
      await this.sync();
    }
  }

  async round() {
    this.say("saving");
    try {
      await this.pull();
      const pushed = await this.push();
      this.store();
      // A 409 is not saved: the next round (already asked for) pulls the other change first.
      if (pushed) this.say("saved");
    } catch (error) {
      if (error instanceof Unreachable) {
        this.say("offline", "The server cannot be reached: changes are kept in this browser.");
        this.schedule(RETRY_MS);
      } else if (error instanceof Refused && (error.status === 401 || error.status === 403)) {
        this.off = true;
        this.say("off", "Workspaces need an API key on this installation.");
      } else {
        this.say("error", error.message);
        this.schedule(RETRY_MS);
      }
    }
  }

  async request(method, path, body = undefined, headers = {}, url = `${api(this.id)}${path}`) {
    let response;
    try {
      response = await this.fetch(url, { method, body, headers });
    } catch {
      throw new Unreachable();
    }
    if (!response.ok) {
      let message = `${method} ${path || "/"}: ${response.status}`;
      try { message = (await response.json()).error.message; } catch { /* not JSON */ }
      throw new Refused(response.status, message);
    }
    return response;
  }

  /** The server's files that changed since the last agreement: taken, or kept beside. */
  async pull() {
    if (this.revision === 0 && this.synced.size === 0) {
      // First contact: an existing workspace is taken as it is (opened from another machine);
      // a new one is made by the first push. Listed rather than asked for, so no 404.
      const listed = await this.request("GET", "", undefined, {}, "/api/v1/workspaces");
      if ((await listed.json()).workspaces.includes(this.id)) await this.adopt();
      return;
    }
    const tree = await (await this.request("GET", "")).json();
    if (tree.revision === this.revision) return;
    const project = this.project();
    const server = new Map(tree.files.map((f) => [f.path, f.sha256]));
    const changes = [];
    const conflicts = [];
    for (const [path, sha] of server) {
      const agreed = this.synced.get(path);
      if (agreed?.sha === sha) continue;
      const content = await (await this.request("GET", `/files/${filePath(path)}?revision=${tree.revision}`)).text();
      const local = project.content(path);
      const editedHere = local !== undefined && local !== (agreed?.content ?? local);
      const createdHere = local !== undefined && agreed === undefined && local !== content;
      if (editedHere || createdHere) {
        const copy = conflictPath(path, tree.revision, (p) => project.has(p) || server.has(p));
        changes.push({ path: copy, content });
        conflicts.push(copy);
      } else {
        changes.push({ path, content });
      }
      this.synced.set(path, { sha, content });
    }
    for (const [path, agreed] of [...this.synced]) {
      if (server.has(path)) continue;
      this.synced.delete(path); // deleted elsewhere: gone here too, unless edited here
      if (project.content(path) === agreed.content) changes.push({ path, content: null });
    }
    this.revision = tree.revision;
    if (changes.length) this.apply(changes, conflicts);
  }

  /**
   * What changed here since the last agreement, saved on the server file by file. Each save
   * and delete is based on the last revision pulled: a file changed elsewhere meanwhile is a
   * 409, and the next round pulls it (and keeps both versions) instead of overwriting or
   * deleting it. False after a 409 (nothing more is pushed this round).
   */
  async push() {
    const files = this.project().files;
    for (const [path, content] of files) {
      if (this.synced.get(path)?.content === content) continue;
      const response = await this.based("PUT", path, content, OCTETS);
      if (!response) return false;
      const saved = await response.json();
      this.synced.set(path, { sha: saved.sha256, content });
      this.revision = saved.revision;
    }
    for (const path of [...this.synced.keys()]) {
      if (files.has(path)) continue;
      try {
        const response = await this.based("DELETE", path);
        if (!response) return false;
        this.revision = (await response.json()).revision;
      } catch (error) {
        if (!(error instanceof Refused && error.status === 404)) throw error;
      }
      this.synced.delete(path);
    }
    return true;
  }

  /** A PUT or DELETE of one file based on the last revision pulled; null on a 409. */
  async based(method, path, body = undefined, headers = {}) {
    const base = this.revision ? `?base=${this.revision}` : "";
    try {
      return await this.request(method, `/files/${filePath(path)}${base}`, body, headers);
    } catch (error) {
      if (!(error instanceof Refused && error.status === 409)) throw error;
      this.again = true;
      return null;
    }
  }

  // --- revisions, zips and share links (the workspace menu) -----------------------------------

  async revisions() {
    return (await (await this.request("GET", "/revisions")).json()).revisions;
  }

  /** Make revision ``n`` the newest (a new revision), then take it here. */
  async restore(revision) {
    await this.request("POST", "/restore", JSON.stringify({ revision }),
      { "Content-Type": "application/json" });
    await this.adopt();
    this.say("saved");
  }

  async uploadZip(blob) {
    await this.request("PUT", "/zip", blob, { "Content-Type": "application/zip" });
    await this.adopt();
    this.say("saved");
  }

  /** The server's newest files replace this browser's (a first visit, a restore, an upload). */
  async adopt() {
    const tree = await (await this.request("GET", "")).json();
    const changes = [];
    const next = new Map();
    for (const { path, sha256 } of tree.files) {
      const content = await (await this.request("GET", `/files/${filePath(path)}?revision=${tree.revision}`)).text();
      next.set(path, { sha: sha256, content });
      changes.push({ path, content });
    }
    for (const path of this.project().files.keys()) {
      if (!next.has(path)) changes.push({ path, content: null });
    }
    this.synced = next;
    this.revision = tree.revision;
    this.store();
    this.apply(changes, []);
  }

  zipUrl() { return `${api(this.id)}/zip`; }

  async share() {
    const response = await this.request("POST", "/share", JSON.stringify({}),
      { "Content-Type": "application/json" });
    return response.json();
  }
}

/** The files of a share link's revision: {workspaceId, revision, files: {path: content}}. */
export async function openShared(fetch, token) {
  const base = `/api/v1/shared/${encodeURIComponent(token)}`;
  const response = await fetch(base);
  if (!response.ok) {
    let message = "This share link is not valid or has expired.";
    try { message = (await response.json()).error.message; } catch { /* not JSON */ }
    throw new Error(message);
  }
  const view = await response.json();
  const files = {};
  for (const { path } of view.files) {
    files[path] = await (await fetch(`${base}/files/${filePath(path)}`)).text();
  }
  return { workspaceId: view.workspaceId, revision: view.revision, files };
}
