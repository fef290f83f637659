// Starter projects: a hello world per language from the runtime catalog (GET /api/v1/runtimes),
// and a few that show what the platform does: standard input line by line, a server and a
// client in two console tabs, an SQL script whose result sets come back as tables, a Jupyter
// notebook with a plot.

import { sampleNotebook, serializeNotebook } from "./nbformat.js";

const STDIN = `# Type a line in the console's input box and press Enter; an empty line ends.
count = 0
while True:
    try:
        line = input("your line? ")
    except EOFError:
        break
    if not line:
        break
    count += 1
    print(f"#{count}: {line.upper()} ({len(line)} characters)")
print(f"bye after {count} lines")
`;

// The edge gives a run the session's private network when the source speaks of sockets, so
// these two need no setting. On that network a program is reached by its main file's stem.
const SERVER = `# Run this first: it listens on port 9000 of the session's private network,
# where other console tabs reach it as host "server" (the stem of server.py).
import socket
import socketserver


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            text = line.decode().strip()
            print(f"server got {text!r}", flush=True)
            self.wfile.write(f"echo: {text}\\n".encode())


socketserver.ThreadingTCPServer.allow_reuse_address = True
with socketserver.ThreadingTCPServer(("0.0.0.0", 9000), Echo) as server:
    print("server listening on port 9000", flush=True)
    server.serve_forever()
`;

const CLIENT = `# Then make this the main file (★) and run it: it opens a second console tab.
import socket
import time

for attempt in range(20):  # the server may still be starting
    try:
        connection = socket.create_connection(("server", 9000), timeout=5)
        break
    except OSError:
        time.sleep(0.25)
else:
    raise SystemExit("no server: run server.py first")

with connection, connection.makefile("rw") as stream:
    for word in ["hello", "from", "the", "client"]:
        stream.write(word + "\\n")
        stream.flush()
        print(stream.readline().strip())
`;

const SQL = `-- Each SELECT comes back as a table. The session's database keeps its tables
-- between runs, hence the DROP first.
DROP TABLE IF EXISTS fruit;
CREATE TABLE fruit (name VARCHAR(20) PRIMARY KEY, colour VARCHAR(20), price DECIMAL(5, 2));
INSERT INTO fruit VALUES
  ('apple', 'red', 0.40), ('banana', 'yellow', 0.25),
  ('cherry', 'red', 3.10), ('lemon', 'yellow', 0.55);
SELECT name, colour, price FROM fruit ORDER BY price DESC;
SELECT colour, COUNT(*) AS fruits, SUM(price) AS total FROM fruit GROUP BY colour ORDER BY colour;
`;

/**
 * A runtime's version as shown in labels, or "" when the catalog's text is not a version (a
 * version command may print a warning line instead).
 */
export function shownVersion(version) {
  const text = String(version ?? "").trim();
  return text.length <= 48 && !/warning|error|unknown|\n/i.test(text) ? text : "";
}

/** The name a language's hello world is saved under: Java wants its public class's name. */
export function helloFileName(runtime) {
  const publicClass = /public\s+(?:final\s+)?class\s+([A-Za-z_$][\w$]*)/.exec(runtime.template);
  return (publicClass ? publicClass[1] : "main") + runtime.extension;
}

/**
 * Every starter for the languages this installation runs: [{id, label, files, main}], where
 * ``files`` maps paths to contents and ``main`` is the file that Run starts.
 */
export function templates(runtimes) {
  const has = (name) => runtimes.some((r) => r.name === name);
  const list = [];
  if (has("python")) {
    list.push({ id: "python-stdin", label: "Python: read input line by line",
      files: { "main.py": STDIN }, main: "main.py" });
    list.push({ id: "python-client-server", label: "Python: a server and a client (two tabs)",
      files: { "server.py": SERVER, "client.py": CLIENT }, main: "server.py" });
    list.push({ id: "python-notebook", label: "Python: a notebook with a plot",
      files: { "notebook.ipynb": serializeNotebook(sampleNotebook()) }, main: "notebook.ipynb" });
  }
  if (has("sql")) {
    list.push({ id: "sql-script", label: "SQL: a script with result tables",
      files: { "script.sql": SQL }, main: "script.sql" });
  }
  for (const runtime of runtimes) {
    if (!runtime.template) continue;
    const name = helloFileName(runtime);
    const version = shownVersion(runtime.version);
    list.push({
      id: `hello-${runtime.name}`,
      label: `Hello world: ${runtime.displayName}${version ? ` (${version})` : ""}`,
      files: { [name]: runtime.template },
      main: name,
    });
  }
  return list;
}

/** The project a first visit starts with: Python's hello world, or the first language's. */
export function defaultTemplate(runtimes) {
  const all = templates(runtimes);
  return all.find((t) => t.id === "hello-python") ?? all.find((t) => t.id.startsWith("hello-"))
    ?? { id: "empty", label: "Empty", files: { "main.py": "print('Hello, world!')\n" }, main: "main.py" };
}
