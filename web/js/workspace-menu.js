// The workspace menu in the top bar: where the project is kept on the server and whether it
// is saved there, its revisions (restore one), zip download and upload, file upload, and a
// read-only share link. The work is WorkspaceSync's (workspace-sync.js); this draws it.

const $ = (id) => document.getElementById(id);
const STATES = {
  idle: "Workspace",
  saving: "Saving…",
  saved: "Saved",
  offline: "Offline: kept in this browser",
  error: "Not saved",
  off: "Workspaces off",
  "read-only": "Read-only",
};

export class WorkspaceMenu {
  constructor({ sync, notify, addFiles }) {
    this.sync = sync;
    this.notify = notify;
    $("workspace-revisions").addEventListener("click", () => this.listRevisions());
    $("workspace-share").addEventListener("click", () => this.share());
    $("workspace-upload").addEventListener("change", (e) => this.uploadZip(e.target));
    $("file-upload").addEventListener("change", (e) => this.uploadFiles(e.target, addFiles));
  }

  /** The sync's state on the status badge: ``data-state`` and ``data-revision`` for tests. */
  draw({ state, revision, message, id }) {
    const status = $("workspace-status");
    status.dataset.state = state;
    status.dataset.revision = String(revision);
    status.textContent = state === "saved" ? `Saved (r${revision})` : STATES[state] ?? state;
    status.title = message || `Workspace ${id}`;
    $("workspace-id").textContent = id;
    $("workspace-link").href = `?workspace=${encodeURIComponent(id)}`;
    $("workspace-zip").href = this.sync ? this.sync.zipUrl() : "#";
  }

  async listRevisions() {
    const list = $("revision-list");
    list.replaceChildren();
    let revisions;
    try {
      revisions = await this.sync.revisions();
    } catch (error) {
      this.notify(`The revisions could not be read: ${error.message}`);
      return;
    }
    for (const r of revisions) {
      const item = document.createElement("li");
      const when = new Date(r.at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      item.textContent = `r${r.revision} · ${when} · ${r.note} · ${r.files} files `;
      item.dataset.revision = String(r.revision);
      const restore = document.createElement("button");
      restore.type = "button";
      restore.textContent = "Restore";
      restore.setAttribute("aria-label", `Restore revision ${r.revision}`);
      restore.addEventListener("click", () => this.restore(r.revision));
      item.append(restore);
      list.append(item);
    }
  }

  async restore(revision) {
    try {
      await this.sync.restore(revision);
      await this.listRevisions();
    } catch (error) {
      this.notify(`Revision ${revision} could not be restored: ${error.message}`);
    }
  }

  async share() {
    try {
      const link = await this.sync.share();
      const field = $("share-link");
      field.value = new URL(link.url, window.location.href).href;
      field.hidden = false;
      field.select();
    } catch (error) {
      this.notify(`No share link: ${error.message}`);
    }
  }

  async uploadZip(input) {
    const [file] = input.files;
    input.value = "";
    if (!file) return;
    try {
      await this.sync.uploadZip(file);
    } catch (error) {
      this.notify(`The zip was not taken: ${error.message}`);
    }
  }

  async uploadFiles(input, addFiles) {
    const chosen = [...input.files];
    input.value = "";
    const files = await Promise.all(chosen.map(async (f) => ({ path: f.name, content: await f.text() })));
    addFiles(files);
  }
}

/** A share link's revision on view: the badge says so; nothing is saved anywhere. */
export function drawReadOnly(view) {
  const status = $("workspace-status");
  status.dataset.state = "read-only";
  status.dataset.revision = String(view.revision);
  status.textContent = `Read-only: revision ${view.revision} of ${view.workspaceId}`;
  for (const id of ["workspace-revisions", "workspace-share", "workspace-upload", "file-upload"]) {
    $(id).disabled = true;
  }
}
