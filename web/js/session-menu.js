// The session menu in the top bar: what this session runs, stop it all, reset the session
// (its sandboxes, network and MySQL made anew), and what it holds on the runners. It sends
// ``session_control`` frames and shows the ``session_state`` answer (docs/protocol.md).

const $ = (id) => document.getElementById(id);

export class SessionMenu {
  constructor({ send }) {
    this.send = send;
    const ask = (action) => () => this.send({ type: "session_control", action, requestId: `session-${action}` });
    $("session-list").addEventListener("click", ask("list"));
    $("session-stop").addEventListener("click", ask("stop_all"));
    $("session-reset").addEventListener("click", ask("reset"));
    $("session-resources").addEventListener("click", ask("resources"));
  }

  /** A ``session_state`` event, in words. */
  show(frame) {
    const lines = [];
    if (frame.action === "reset") lines.push("The session was reset: new sandboxes, network and an empty database from the next run on.");
    if (frame.stopped?.length) lines.push(`Stopped ${frame.stopped.length} run(s).`);
    lines.push(frame.running?.length ? `Running: ${frame.running.map((r) => `${r.executionId.slice(0, 8)} (${r.status})`).join(", ")}` : "Nothing running.");
    for (const r of frame.resources ?? []) {
      const kept = (r.sandboxes ?? []).map((s) => `${s.slot} (${s.language})`).join(", ") || "none";
      const db = r.database ? `MySQL${r.databaseKb ? `, ${r.databaseKb} KB` : ""}` : "no database";
      lines.push(`${frame.action === "reset" ? "Removed" : "Held"} on ${r.runnerId}: sandboxes ${kept}; ${r.network ? "a network" : "no network"}; ${db}.`);
    }
    const info = $("session-info");
    info.textContent = lines.join("\n");
    info.dataset.action = frame.action;
  }
}
