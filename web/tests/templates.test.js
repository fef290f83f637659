import assert from "node:assert/strict";
import { test } from "node:test";

import { defaultTemplate, helloFileName, shownVersion, templates } from "../js/templates.js";

const PYTHON = { name: "python", displayName: "Python 3", version: "3.11.2", extension: ".py",
  template: "print('Hello, world!')\n" };
const JAVA = { name: "java", displayName: "Java", version: "17", extension: ".java",
  template: "public class Main {\n}\n" };
const SQL = { name: "sql", displayName: "SQL", version: "10.11", extension: ".sql",
  template: "SELECT 1;\n" };

test("every runtime gets a hello world from its catalog template", () => {
  const list = templates([PYTHON, JAVA, SQL]);
  const hello = list.find((t) => t.id === "hello-java");
  assert.deepEqual(hello.files, { "Main.java": JAVA.template });
  assert.equal(hello.main, "Main.java");
  assert.equal(hello.label, "Hello world: Java (17)");
});

test("Java's file is named after its public class, others main.<ext>", () => {
  assert.equal(helloFileName(JAVA), "Main.java");
  assert.equal(helloFileName({ ...JAVA, template: "public final class Greeter {}" }), "Greeter.java");
  assert.equal(helloFileName(PYTHON), "main.py");
});

test("the stdin, client/server and SQL starters come with their languages only", () => {
  const ids = (runtimes) => templates(runtimes).map((t) => t.id);
  assert.deepEqual(ids([PYTHON, SQL]).filter((id) => !id.startsWith("hello-")),
    ["python-stdin", "python-client-server", "python-notebook", "sql-script"]);
  assert.deepEqual(ids([JAVA]), ["hello-java"]);
});

test("the client/server pair: a server on 0.0.0.0:9000 and a client of host server", () => {
  const pair = templates([PYTHON]).find((t) => t.id === "python-client-server");
  assert.deepEqual(Object.keys(pair.files).sort(), ["client.py", "server.py"]);
  assert.equal(pair.main, "server.py");
  assert.match(pair.files["server.py"], /\("0\.0\.0\.0", 9000\)/);
  assert.match(pair.files["client.py"], /\("server", 9000\)/);
  // The edge's network guess (docs/protocol.md) must say yes without a setting.
  for (const source of Object.values(pair.files)) assert.match(source, /\bsocket\b/);
});

test("the SQL starter can run twice against the session's database", () => {
  const sql = templates([SQL]).find((t) => t.id === "sql-script");
  assert.match(sql.files["script.sql"], /DROP TABLE IF EXISTS fruit;[\s\S]*CREATE TABLE fruit/);
});

test("a first visit gets Python's hello world when there is Python", () => {
  assert.equal(defaultTemplate([JAVA, PYTHON]).id, "hello-python");
  assert.equal(defaultTemplate([JAVA]).id, "hello-java");
  assert.deepEqual(Object.keys(defaultTemplate([]).files), ["main.py"]);
});

test("a version that is not one (a warning line) is left out of the label", () => {
  assert.equal(shownVersion("3.11.2"), "3.11.2");
  assert.equal(shownVersion("Version 4.8.4"), "Version 4.8.4");
  assert.equal(shownVersion('openjdk version "17.0.19" 2026-04-21'), 'openjdk version "17.0.19" 2026-04-21');
  assert.equal(shownVersion("unknown"), "");
  assert.equal(shownVersion("2026-12-01 1:46:29 0 [Warning] failed to retrieve the MAC address"), "");
  const [hello] = templates([{ ...SQL, version: "0 [Warning] no MAC" }]).filter((t) => t.id === "hello-sql");
  assert.equal(hello.label, "Hello world: SQL");
});

test("the notebook template is an nbformat 4 notebook with the plot", () => {
  const notebook = templates([PYTHON]).find((t) => t.id === "python-notebook");
  assert.equal(notebook.main, "notebook.ipynb");
  const data = JSON.parse(notebook.files["notebook.ipynb"]);
  assert.equal(data.nbformat, 4);
  assert.ok(data.cells.some((c) => c.cell_type === "code" && c.source.join("").includes("plt.show()")));
});
