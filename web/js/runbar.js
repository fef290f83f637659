// What runs and how: the top bar's Run button (Stop while the main file's program runs), the
// language picker with its warning, Run open file, and the main file's input before running
// (under the consoles). It draws from the project and forwards the user's choices.

import { isNotebookPath } from "./nbformat.js";
import { runtimeFor } from "./project.js";

const $ = (id) => document.getElementById(id);

export class RunBar {
  /**
   * @param {{run(): void, stop(): void, runOpen(): void, chooseLanguage(name: string): void,
   *   typeStdin(text: string): void}} actions
   */
  constructor(actions) {
    $("run").addEventListener("click", () => (this.stopping ? actions.stop() : actions.run()));
    $("run-open").addEventListener("click", () => actions.runOpen());
    $("language").addEventListener("change", (e) => actions.chooseLanguage(e.target.value));
    $("stdin-text").addEventListener("input", (e) => {
      actions.typeStdin(e.target.value);
      drawStdinSummary(e.target.value);
    });
    this.stopping = false;
  }

  /**
   * Everything, from ``project`` and ``runtimes``; ``mainTab`` is the main file's console tab
   * (or null), ``ready`` says that the editor has loaded.
   */
  draw({ project, runtimes, mainTab, ready }) {
    const main = project.main;
    $("run-target").textContent = main ? `main file: ${main}` : "no main file";
    this.drawButton({ project, mainTab, ready });
    drawLanguage(project, runtimes);
    drawStdin(project);
    const open = project.open;
    const runnable = open !== null && !isNotebookPath(open);
    $("run-open").disabled = !ready || !runnable;
    $("run-open").setAttribute("aria-label", runnable ? `Run the open file, ${open}` : "Run the open file");
    $("run-open").title = runnable ? `Run ${open}, the open file (Ctrl+Shift+Enter)` : "Open a file to run it";
  }

  /** Run turns into Stop while the main file's program is queued or running. */
  drawButton({ project, mainTab, ready }) {
    const main = project.main;
    const button = $("run");
    this.stopping = mainTab?.active === true;
    if (this.stopping) {
      button.textContent = "Stop";
      button.classList.replace("primary", "stopping");
      button.disabled = !mainTab.canStop;
      button.setAttribute("aria-label", `Stop ${main}`);
      button.title = `Stop ${main} (Ctrl+Shift+X)`;
      return;
    }
    button.textContent = "Run";
    button.classList.replace("stopping", "primary");
    button.disabled = !ready;
    button.setAttribute("aria-label", main ? `Run ${main}` : "Run");
    button.title = main ? `Run ${main} (Ctrl+Enter)` : "Choose a main file first (★)";
  }
}

function drawLanguage(project, runtimes) {
  const main = project.main;
  const select = $("language");
  const byExtension = main ? runtimeFor(main, runtimes) : undefined;
  const chosen = main ? project.runtimeOf(main, runtimes) : undefined;
  const options = runtimes.map((r) => new Option(
    r === byExtension ? `${r.displayName ?? r.name} (${r.extension})` : (r.displayName ?? r.name), r.name));
  if (!chosen) options.unshift(new Option("Choose a language", ""));
  select.replaceChildren(...options);
  select.value = chosen?.name ?? "";
  select.disabled = main === null || isNotebookPath(main) || runtimes.length === 0;
  const warning = main && runtimes.length ? project.languageMismatch(main, runtimes) : null;
  $("language-warning").textContent = warning ?? "";
  $("language-warning").hidden = warning === null;
}

function drawStdin(project) {
  const main = project.main;
  const text = main ? project.stdinOf(main) : "";
  $("stdin-label").textContent = main ? `Standard input for ${main}` : "Standard input for the main file";
  if ($("stdin-text").value !== text) $("stdin-text").value = text;
  $("stdin-text").disabled = main === null;
  drawStdinSummary(text);
}

function drawStdinSummary(text) {
  const lines = text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  $("stdin-summary").textContent = lines
    ? `Input before running (${lines} line${lines === 1 ? "" : "s"})` : "Input before running";
}
