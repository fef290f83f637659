// The IDE's composition root: the project, the editor, the file panel, the consoles, the
// notebooks and the socket, wired together. Decisions live in the DOM-free modules (project.js,
// templates.js, console-state.js, notebook-state.js, nbformat.js, outputs.js, connection.js,
// ansi.js, diagnostics.js, theme.js); this file only connects them to the page.

import { Connection } from "./connection.js";
import { ConsoleState } from "./console-state.js";
import { ConsoleView } from "./consoleview.js";
import { findLocations, parseDiagnostics } from "./diagnostics.js";
import { Editor, loadMonaco } from "./editor.js";
import { FilePanel } from "./filepanel.js";
import { LspEditor } from "./lsp-editor.js";
import { LanguageServers } from "./lsp-servers.js";
import { emptyNotebook, isNotebookPath, serializeNotebook } from "./nbformat.js";
import { NotebookPage } from "./notebookpage.js";
import { Project, ProjectError, ProjectStore, runtimeFor } from "./project.js";
import { RunBar } from "./runbar.js";
import { defaultTemplate, templates } from "./templates.js";
import { loadTheme, monacoTheme, resolveTheme, saveTheme } from "./theme.js";
import { SessionMenu } from "./session-menu.js";
import { TestsPanel } from "./tests-panel.js";
import { TESTS_PATH, storeTests } from "./tests-state.js";
import { WorkspaceMenu, drawReadOnly } from "./workspace-menu.js";
import { POLL_MS, WorkspaceSync, openShared } from "./workspace-sync.js";

const $ = (id) => document.getElementById(id);
const SAVE_DELAY_MS = 250;
/** The console tabs and their output, kept for a reload of this browser tab. */
const CONSOLES_KEY = "coderunner.consoles.v1";
const RUNTIMES_RETRY_MS = 2000;

const localStore = storageOr("localStorage");
const params = new URLSearchParams(window.location.search);
/** A share link's token (``/?share=…``): its revision opens read-only, nothing is stored. */
const shareToken = params.get("share");
const store = new ProjectStore(shareToken ? memoryStorage() : localStore);
const systemDark = window.matchMedia("(prefers-color-scheme: dark)");
let themeChoice = loadTheme(localStore);
let project = shareToken ? new Project() : store.load() ?? projectOf(defaultTemplate([]));
let runtimes = [];
let templateList = [];
let editor = null;
let saveTimer = null;
let undoProject = null;
let noticeSource = null;

const consoles = new ConsoleState();
const sessionStore = storageOr("sessionStorage");
const connection = new Connection({
  WebSocket: window.WebSocket, storage: sessionStore, location: window.location,
});
/** Language servers for the open file's languages (docs/ide.md, Code intelligence). */
const languageServers = new LanguageServers({
  send: (frame) => connection.send(frame), files: () => project.files, openPath: () => project.open,
});

const files = new FilePanel({
  open: (path) => openFile(path),
  setMain: (path) => change(() => project.setMain(path)),
  create: (kind, path) => attempt(() => {
    if (kind === "folder") project.createFolder(path);
    else if (kind === "notebook") project.createFile(notebookPath(path), serializeNotebook(emptyNotebook()));
    else project.createFile(path, isNotebookPath(path) ? serializeNotebook(emptyNotebook()) : "");
  }, () => { if (kind !== "folder") showOpenFile(); }),
  rename: (from, to) => attempt(() => {
    notebooks.flush();
    const moved = project.rename(from, to);
    editor?.forget(moved.map(([old]) => old));
    notebooks.renamed(moved);
  }, showOpenFile),
  remove: (path) => attempt(() => {
    notebooks.flush();
    const gone = project.delete(path);
    editor?.forget(gone);
    gone.forEach((p) => notebooks.close(p));
  }, showOpenFile),
  focusEditor: () => focusEditor(),
});

/** "analysis" → "analysis.ipynb"; an empty name stays empty, to be refused in words. */
const notebookPath = (name) => (name === "" || isNotebookPath(name) ? name : `${name}.ipynb`);

const notebooks = new NotebookPage({
  element: $("notebook"),
  problem: $("notebook-problem"),
  problemText: $("notebook-problem-text"),
  problemAction: $("notebook-as-text"),
  project: () => project,
  send: (frame) => send(frame),
  scheduleSave: () => scheduleSave(),
  saveNow: () => saveNow(),
});

const view = new ConsoleView({
  stop: (tab) => tab.executionId && send({ type: "stop", executionId: tab.executionId }),
  sendInput: (tab, text) => {
    if (send({ type: "stdin", executionId: tab.executionId, data: `${text}\n` })) {
      const { changes } = consoles.input(tab, text);
      draw(tab, changes);
    }
  },
  endInput: (tab) => {
    if (send({ type: "stdin", executionId: tab.executionId, eof: true })) {
      draw(tab, [{ kind: "notice", level: "info", text: "(end of input sent)" }]);
    }
  },
  close: (tab) => closeTab(tab),
  reveal: (file, line, column) => revealLocation(file, line, column),
});

/** The Tests panel (docs/ide.md, Tests): its cases are the project file TESTS_PATH. */
const testsPanel = new TestsPanel({
  read: () => project.content(TESTS_PATH),
  write: (text) => {
    const made = storeTests(project, text);
    if (project.open === TESTS_PATH) {
      editor?.forget([TESTS_PATH]);
      showOpenFile();
    }
    if (made) refresh();
    else scheduleSave();
  },
  runRequest: () => project.runRequest(runtimes),
  send: (frame) => send(frame),
  paths: () => new Set(project.files.keys()),
  compiled: (text) => editor?.setDiagnostics("tests",
    text === null ? [] : parseDiagnostics(text, new Set(project.files.keys()))),
  reveal: (file, line, column) => revealLocation(file, line, column),
});

/** The project also lives in a workspace on the server (docs/workspaces.md); not a share link's. */
const workspace = shareToken ? null : new WorkspaceSync({
  fetch: (url, init) => window.fetch(url, init), storage: localStore,
  id: params.get("workspace"), project: () => project, apply: applyRemote,
  onState: (state) => workspaceMenu.draw(state),
});
const workspaceMenu = new WorkspaceMenu({ sync: workspace, notify: (text) => notify(text), addFiles: addFiles });
const sessionMenu = new SessionMenu({ send: (frame) => send(frame) });

/** Changes the workspace brought (made elsewhere, or a restore): into the project and editor. */
function applyRemote(changes, conflicts) {
  const open = project.open;
  for (const { path, content } of changes) {
    const problem = attempt(() => {
      if (content === null) {
        if (project.files.has(path)) project.delete(path);
      } else if (project.files.has(path)) {
        project.setContent(path, content);
      } else {
        project.createFile(path, content);
      }
    });
    if (problem) notify(`${path} from the workspace was not taken: ${problem}`);
  }
  if (open !== null && project.files.has(open)) project.setOpen(open);
  editor?.forget(changes.map((c) => c.path));
  showOpenFile();
  refresh();
  if (conflicts.length) {
    notify(`Changed here and elsewhere: both versions are kept, the other one in ${conflicts.join(", ")}.`, "workspace");
  }
}

/** Files uploaded from the computer: added, or replacing those of the same name. */
function addFiles(uploaded) {
  for (const { path, content } of uploaded) {
    const problem = attempt(() => {
      if (project.files.has(path)) project.setContent(path, content);
      else project.createFile(path, content);
    });
    if (problem) notify(`${path} was not added: ${problem}`);
  }
  editor?.forget(uploaded.map((f) => f.path));
  showOpenFile();
}

/** Storage for a share link's page: its project is never written to the browser's. */
function memoryStorage() {
  const items = new Map();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, String(v)) };
}

/** The browser's storage, or, where touching it throws (site data blocked), one that lasts
 * as long as the page: the IDE still works, it just forgets on reload. */
function storageOr(name) {
  try {
    const storage = window[name];
    if (storage) return storage;
  } catch {
    // fall through
  }
  const items = new Map();
  return { getItem: (key) => items.get(key) ?? null, setItem: (key, value) => items.set(key, String(value)) };
}

/** Draw ``changes`` in ``tab``'s console, and keep them for a reload. */
function draw(tab, changes) {
  consoles.remember(tab, changes);
  view.update(tab, changes);
}

function closeTab(tab) {
  const running = consoles.close(tab.mainFile);
  if (running) send({ type: "stop", executionId: running });
  editor?.setDiagnostics(diagnosticsOwner(tab.mainFile), []);
  view.remove(tab);
  drawRunButton();
}

/** Keep the tabs for this browser tab's next load; without their output if it does not fit. */
function saveConsoles() {
  const tabs = consoles.snapshot();
  const selected = view.selected()?.mainFile ?? null;
  try {
    sessionStore.setItem(CONSOLES_KEY, JSON.stringify({ selected, tabs }));
  } catch {
    try {
      sessionStore.setItem(CONSOLES_KEY, JSON.stringify({
        selected, tabs: tabs.map((t) => ({ ...t, log: [], transcript: "" })) }));
    } catch {
      // storage refused: the tabs do not come back
    }
  }
}

/** The tabs the page had before a reload, drawn again; their runs wait for the session. */
function restoreConsoles() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStore.getItem(CONSOLES_KEY) ?? "null");
  } catch {
    return;
  }
  if (!saved) return;
  // a finished tab's locations become links once the editor is up (startEditor: showDiagnostics)
  for (const { tab, changes } of consoles.restore(saved.tabs)) draw(tab, changes);
  const selected = saved.selected ? consoles.tab(saved.selected) : null;
  if (selected) view.select(selected);
  drawRunButton();
}

function projectOf(template) {
  return new Project({ files: template.files, main: template.main, open: template.main });
}

// --- saving and notices ------------------------------------------------------------------------

function scheduleSave() {
  languageServers.schedule();
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
}

/** Store the project now; returns the problem in words when the browser refused, else null. */
function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = null;
  notebooks.flush();
  const problem = store.save(project);
  if (problem) notify(problem, "storage");
  workspace?.schedule();
  return problem;
}

function saveAndSay() {
  if (saveNow() === null) {
    $("saved").textContent = `Saved at ${new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  }
}

/** Show a message at the top of the page, where it is announced (role=alert). */
function notify(text, source = "app") {
  noticeSource = source;
  $("notice-text").textContent = text;
  $("notice").hidden = false;
}

function dismiss(source = null) {
  if (source !== null && noticeSource !== source) return;
  $("notice").hidden = true;
  noticeSource = null;
}

/** Run a project change; a ProjectError becomes the returned message for the panel. */
function attempt(action, after = () => {}) {
  try {
    action();
  } catch (error) {
    if (error instanceof ProjectError) return error.message;
    throw error;
  }
  after();
  refresh();
  return null;
}

function change(action) {
  const problem = attempt(action);
  if (problem) notify(problem);
}

function refresh() {
  files.render(project);
  testsPanel.sync();
  drawRunTarget();
  scheduleSave();
}

// --- theme and help ----------------------------------------------------------------------------

function applyTheme() {
  const resolved = resolveTheme(themeChoice, systemDark.matches);
  document.documentElement.dataset.theme = resolved;
  editor?.setTheme(monacoTheme(resolved));
}

function chooseTheme(choice) {
  themeChoice = choice;
  saveTheme(localStore, choice);
  applyTheme();
}

function openHelp() {
  if (!$("help").open) $("help").showModal();
}

/** ``?`` and F1 open the help, except where they are typed or mean something else. */
function isHelpKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return false;
  if (e.key !== "?" && e.key !== "F1") return false;
  const target = e.target instanceof Element ? e.target : null;
  // Not where text is typed: a field, the editor (where F1 is its command palette), a cell.
  return !target?.closest("input, textarea, [contenteditable], .monaco-editor");
}

// --- the editor --------------------------------------------------------------------------------

function openFile(path) {
  change(() => project.setOpen(path));
  showOpenFile();
  focusEditor();
}

/** Show the open file: in the editor, or as a notebook (an .ipynb file not opened as text). */
function showOpenFile() {
  const path = project.open;
  const asNotebook = notebooks.shows(path);
  $("open-file").textContent = path ?? "No file open";
  $("editor").hidden = asNotebook;
  $("editor-hint").textContent = asNotebook
    ? "Shift+Enter runs a cell and moves on · Ctrl+Enter runs it · Ctrl+S saves"
    : "Ctrl+Enter runs · Ctrl+M: Tab moves focus";
  $("view-as").hidden = path === null || !isNotebookPath(path);
  $("view-as").textContent = asNotebook ? "View as text" : "View as notebook";
  notebooks.show(path);
  if (!editor || asNotebook) return;
  if (path === null) editor.clear();
  else editor.show(path, project.content(path));
}

function focusEditor() {
  if (!notebooks.focus(project.open)) editor?.focus();
}

/** An .ipynb file as its JSON text in the editor, or back as a notebook. */
function toggleNotebookText() {
  const path = project.open;
  if (path === null || !isNotebookPath(path) || !notebooks.toggleText(path)) return;
  editor?.forget([path]); // the text is read afresh from the file
  showOpenFile();
  $("view-as").focus();
}

async function startEditor() {
  try {
    const monaco = await loadMonaco();
    notebooks.monaco = monaco;
    editor = new Editor(monaco, $("editor"), {
      onChange: (path, content) => {
        if (!project.files.has(path)) return;
        project.setContent(path, content);
        if (path === TESTS_PATH) testsPanel.sync();
        scheduleSave();
      },
      theme: monacoTheme(resolveTheme(themeChoice, systemDark.matches)),
    });
    new LspEditor(monaco, languageServers, {
      status: $("lsp-status"), openPath: () => project.open, reveal: revealLocation,
      openModel: (path) => (project.files.has(path) && !isNotebookPath(path)
        ? editor.model(path, project.content(path)) : null),
    });
    languageServers.enable();
    showOpenFile();
    $("run").disabled = false;
    drawRunTarget();
    for (const tab of consoles.tabs.values()) if (tab.phase === "done") showDiagnostics(tab);
    // Monaco's API is whole only now: \`window.monaco\` appears while its modules still load, and
    // a call then (\`getEditors()\`) starts its services without the late modules' ones.
    if (shareToken) await openShareLink();
    $("editor").dataset.state = "ready";
    window.ideLoaded?.();
  } catch (error) {
    notify(error.message, "editor");
  }
}

/** A share link's revision, read-only: the editor takes no typing and nothing is saved. */
async function openShareLink() {
  editor.editor.updateOptions({ readOnly: true });
  try {
    const view = await openShared((url) => window.fetch(url), shareToken);
    const paths = Object.keys(view.files);
    replaceProject(new Project({ files: view.files, main: paths[0] ?? null, open: paths[0] ?? null }));
    drawReadOnly(view);
  } catch (error) {
    notify(error.message, "share");
  }
}

// --- running -----------------------------------------------------------------------------------

const runBar = new RunBar({
  run: () => run(),
  stop: () => stopMain(),
  runOpen: () => runOpenFile(),
  chooseLanguage: (name) => chooseLanguage(name),
  typeStdin: (text) => {
    if (project.main === null) return;
    project.setStdin(project.main, text);
    scheduleSave();
  },
});

function runState() {
  const mainTab = project.main ? consoles.tab(project.main) : null;
  return { project, runtimes, mainTab, ready: editor !== null };
}

function drawRunTarget() {
  runBar.draw(runState());
}

function drawRunButton() {
  runBar.drawButton(runState());
}

function chooseLanguage(name) {
  const main = project.main;
  if (main === null) return;
  // The extension's own language is no choice to remember: a rename to .c then runs C.
  const byExtension = runtimeFor(main, runtimes);
  change(() => project.setLanguage(main, name && name !== byExtension?.name ? name : null));
}

function send(frame) {
  if (connection.send(frame)) return true;
  notConnected();
  return false;
}

function notConnected() {
  notify("Not connected to the platform, so nothing was sent. It reconnects by itself; "
    + "try again when the top right says Connected.", "connection");
}

/** Run ``path`` (the main file unless told) in its console tab. */
function run(path = project.main) {
  if (!editor) return;
  if (runtimes.length === 0) {
    notify("The list of languages has not loaded yet: the platform may still be starting.");
    return;
  }
  let request;
  try {
    request = project.runRequest(runtimes, path);
  } catch (error) {
    if (!(error instanceof ProjectError)) throw error;
    notify(error.message);
    return;
  }
  if (!connection.isOpen) {
    notConnected();
    return;
  }
  saveNow();
  const { tab, requestId, stopFirst, changes } = consoles.start(request.mainFile,
    { inputGiven: request.stdin !== undefined });
  if (stopFirst) connection.send({ type: "stop", executionId: stopFirst });
  editor.setDiagnostics(diagnosticsOwner(request.mainFile), []);
  draw(tab, changes);
  view.select(tab);
  connection.send({ type: "execute_code", requestId, ...request });
  drawRunButton();
  dismiss();
}

function runOpenFile() {
  if (project.open !== null && !isNotebookPath(project.open)) run(project.open);
}

/** Stop the main file's program (Run, while it is Stop). */
function stopMain() {
  const tab = project.main ? consoles.tab(project.main) : null;
  if (tab?.canStop) send({ type: "stop", executionId: tab.executionId });
}

const diagnosticsOwner = (mainFile) => `run:${mainFile}`;

/** A run ended: its errors as markers in the editor, its file:line places as links. */
function showDiagnostics(tab) {
  const paths = new Set(project.files.keys());
  editor?.setDiagnostics(diagnosticsOwner(tab.mainFile), parseDiagnostics(tab.transcript, paths));
  view.linkify(tab, (text) => findLocations(text, paths));
}

/** A location clicked in a console: open its file with the cursor there. */
function revealLocation(file, line, column) {
  if (!project.files.has(file)) {
    notify(`${file} is no longer in the project.`);
    return;
  }
  change(() => project.setOpen(file));
  showOpenFile();
  if (!notebooks.shows(file)) editor?.reveal(line, column);
}

function onEvent(frame) {
  if (frame.type === "session_state") {
    sessionMenu.show(frame);
    return;
  }
  if (frame.type === "session") {
    // Before the completions that a resumed session delivers right after this frame.
    for (const { tab, changes } of consoles.sessionStarted(frame.resumed === true)) {
      draw(tab, changes);
      // A restarted edge, or another one behind a load balancer, hands nothing over by
      // itself: ask for the run again (the edge ignores it when it took the run over).
      if (tab.resumed && tab.executionId) {
        connection.send({ type: "attach", executionId: tab.executionId });
      }
    }
    notebooks.sessionStarted(frame.resumed === true);
    languageServers.connect();
    testsPanel.sessionStarted(frame.resumed === true);
    drawRunButton();
    return;
  }
  if (testsPanel.apply(frame)) return;
  if (languageServers.apply(frame)) return;
  if (notebooks.apply(frame)) return;
  const result = consoles.apply(frame);
  if (!result) return;
  if (result.tab) {
    draw(result.tab, result.changes);
    if (frame.type === "error") view.select(result.tab);
    if (frame.type === "completion" && result.tab.phase === "done") showDiagnostics(result.tab);
    // output changes no phase: a program printing fast must not redraw the button each time
    if (frame.type !== "output" && frame.type !== "table") drawRunButton();
  } else {
    for (const change of result.changes) if (change.kind === "notice") notify(change.text);
  }
}

// --- the connection ----------------------------------------------------------------------------

let retryTicker = null;

function drawConnection(state) {
  const label = $("connection");
  label.dataset.state = state;
  clearInterval(retryTicker);
  $("reconnect").hidden = state !== "waiting";
  if (state === "open") {
    label.textContent = connection.resumed ? "Connected (session resumed)" : "Connected";
    dismiss("connection");
  } else if (state === "connecting") {
    label.textContent = "Connecting…";
  } else if (state === "waiting") {
    const until = Date.now() + connection.retryInMs;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      label.textContent = `Disconnected: retrying in ${seconds} s`;
    };
    tick();
    retryTicker = setInterval(tick, 1000);
  } else {
    label.textContent = "Disconnected";
  }
}

connection.on("state", drawConnection);
connection.on("event", onEvent);
connection.on("drop", () => {
  for (const { tab, changes } of consoles.connectionLost()) draw(tab, changes);
  notebooks.connectionLost();
  languageServers.disconnect();
  testsPanel.connectionLost();
  drawRunButton();
});

// --- the runtime catalog and templates ----------------------------------------------------------

async function loadRuntimes() {
  try {
    const response = await fetch("/api/v1/runtimes", { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    // Languages whose image is not built yet are listed too (built: false): not offered here.
    runtimes = (await response.json()).filter((runtime) => runtime.built !== false);
  } catch (error) {
    notify(`Could not load the list of languages (${error.message}); retrying.`, "runtimes");
    setTimeout(loadRuntimes, RUNTIMES_RETRY_MS);
    return;
  }
  if (runtimes.length === 0) {
    notify("No language is available yet: no runner has started. Retrying.", "runtimes");
    setTimeout(loadRuntimes, RUNTIMES_RETRY_MS);
    return;
  }
  dismiss("runtimes");
  templateList = templates(runtimes);
  const select = $("template");
  select.replaceChildren(...templateList.map((t) => new Option(t.label, t.id)));
  drawRunTarget();
  const main = project.main;
  if (main && !runtimeFor(main, runtimes) && !isNotebookPath(main)) {
    notify(`No language here runs ${main}; make another file the main file (★).`);
  }
}

function useTemplate() {
  const template = templateList.find((t) => t.id === $("template").value);
  if (!template) return;
  saveNow();
  undoProject = project.toJSON();
  // The old project's consoles go with it (what they still run is stopped).
  for (const tab of [...consoles.tabs.values()]) closeTab(tab);
  replaceProject(projectOf(template));
  $("undo-text").textContent = `The project is now "${template.label}".`;
  $("undo").hidden = false;
  focusEditor();
}

function undoTemplate() {
  if (!undoProject) return;
  replaceProject(new Project(undoProject));
  undoProject = null;
  $("undo").hidden = true;
  $("use-template").focus();
}

function replaceProject(next) {
  notebooks.closeAll();
  editor?.forgetAll();
  project = next;
  showOpenFile();
  refresh();
  saveNow();
}

// --- start -------------------------------------------------------------------------------------

$("theme").value = themeChoice;
$("theme").addEventListener("change", (e) => chooseTheme(e.target.value));
systemDark.addEventListener("change", applyTheme);
$("help-open").addEventListener("click", openHelp);
$("skip").addEventListener("click", (e) => {
  e.preventDefault();
  focusEditor();
});
$("use-template").addEventListener("click", useTemplate);
$("undo-button").addEventListener("click", undoTemplate);
$("new-file").addEventListener("click", () => {
  const folder = project.open?.includes("/") ? project.open.slice(0, project.open.lastIndexOf("/") + 1) : "";
  files.ask("file", folder);
});
$("new-folder").addEventListener("click", () => files.ask("folder"));
$("new-notebook").addEventListener("click", () => {
  const folder = project.open?.includes("/") ? project.open.slice(0, project.open.lastIndexOf("/") + 1) : "";
  files.ask("notebook", folder);
});
$("view-as").addEventListener("click", toggleNotebookText);
$("notebook-as-text").addEventListener("click", toggleNotebookText);
$("notice-close").addEventListener("click", () => dismiss());
$("reconnect").addEventListener("click", () => connection.retryNow());
/** The page's own shortcut for a key press (the help overlay lists them), or null. */
function shortcut(e) {
  if (isHelpKey(e)) return openHelp;
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  const key = e.key.toLowerCase();
  if (key === "enter") return e.shiftKey ? runOpenFile : () => run();
  if (key === "x" && e.shiftKey) return stopMain;
  if (key === "s" && !e.shiftKey) return saveAndSay;
  return null;
}

// Capture phase: Ctrl/Cmd+Enter runs from anywhere, the editor included, exactly once; in a
// notebook's cell, Shift+Enter and Ctrl/Cmd+Enter run the cell, and Ctrl/Cmd+S saves.
document.addEventListener("keydown", (e) => {
  if (notebooks.onKey(e, project.open)) {
    e.preventDefault();
    e.stopPropagation();
    return;
  }
  const action = shortcut(e);
  if (!action) return;
  e.preventDefault();
  e.stopPropagation();
  action();
}, true);
window.addEventListener("online", () => workspace?.sync());
setInterval(() => {
  if (document.visibilityState === "visible" && workspace?.state !== "saving") workspace?.sync();
}, POLL_MS);
window.addEventListener("pagehide", () => {
  saveNow();
  saveConsoles();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    saveNow();
    saveConsoles();
  }
});

refresh();
showOpenFile();
restoreConsoles(); // before the socket: its session frame hands the runs over
connection.connect();
loadRuntimes();
startEditor();
workspace?.sync();
