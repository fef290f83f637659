// The console tabs' DOM: a WAI-ARIA tablist (arrow keys move between tabs), and per tab a
// status line, Stop, the output as a log, and an input line for the program's stdin. The state
// lives in console-state.js; this module draws its changes.

import { cssOf } from "./ansi.js";

const $ = (id) => document.getElementById(id);
const NEAR_BOTTOM_PX = 24;
const BLOCK_CHARS = 4096;

export class ConsoleView {
  /**
   * @param {{stop(tab): void, sendInput(tab, text: string): void, endInput(tab): void,
   *   close(tab): void, reveal(file: string, line: number, column: number | null): void}} actions
   */
  constructor(actions) {
    this.actions = actions;
    this.tablist = $("console-tabs");
    this.panels = $("console-panels");
    this.empty = $("console-empty");
    /** @type {Map<object, {tab: HTMLElement, panel: HTMLElement, output: HTMLElement,
     *   phase: HTMLElement, usage: HTMLElement, stop: HTMLButtonElement,
     *   input: HTMLInputElement, send: HTMLButtonElement, eof: HTMLButtonElement}>} */
    this.views = new Map();
    this.counter = 0;
    this.tablist.addEventListener("keydown", (e) => this.onTabKey(e));
  }

  /** Draw one batch of changes for ``tab`` (see ConsoleState). */
  update(tab, changes) {
    const view = this.views.get(tab) ?? this.create(tab);
    this.followOutput(view);
    for (const change of changes) {
      switch (change.kind) {
        case "reset": view.output.replaceChildren(); break;
        case "status": this.drawStatus(tab, view); break;
        case "text": appendText(view.output, change.stream, change.segments); break;
        case "echo": appendEcho(view.output, change.text); break;
        case "table": view.output.append(renderTable(change.columns, change.rows)); break;
        case "notice": appendNotice(view.output, change.text, change.level); break;
        default: break;
      }
    }
  }

  /**
   * Keep the output scrolled to its end if it was there before this frame's output came, so
   * that reading back is not interrupted. The position is read once per frame, not once per
   * event: a fast printer sends hundreds of events a second.
   */
  followOutput(view) {
    if (view.follow !== undefined) return;
    view.follow = isNearBottom(view.output);
    requestAnimationFrame(() => {
      if (view.follow) view.output.scrollTop = view.output.scrollHeight;
      view.follow = undefined;
    });
  }

  create(tab) {
    this.counter += 1;
    const id = `console-${this.counter}`;
    const tabButton = document.createElement("button");
    tabButton.type = "button";
    tabButton.setAttribute("role", "tab");
    tabButton.id = `${id}-tab`;
    tabButton.className = "console-tab";
    tabButton.dataset.mainFile = tab.mainFile;
    tabButton.setAttribute("aria-controls", `${id}-panel`);
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.setAttribute("aria-hidden", "true");
    const title = document.createElement("span");
    title.textContent = tab.mainFile;
    tabButton.append(dot, title);
    tabButton.addEventListener("click", () => this.select(tab));

    const panel = document.createElement("div");
    panel.setAttribute("role", "tabpanel");
    panel.id = `${id}-panel`;
    panel.className = "console-panel";
    panel.dataset.mainFile = tab.mainFile;
    panel.setAttribute("aria-labelledby", tabButton.id);
    panel.innerHTML = `
      <div class="console-head">
        <span class="phase" role="status"></span>
        <span class="usage muted"></span>
        <span class="spacer"></span>
        <button type="button" class="stop">Stop</button>
        <button type="button" class="clear">Clear</button>
        <button type="button" class="close">Close tab</button>
      </div>
      <div class="output" role="log" tabindex="0"></div>
      <form class="stdin">
        <input type="text" autocomplete="off" spellcheck="false">
        <button type="submit" class="send">Send</button>
        <button type="button" class="eof" title="Close the program's standard input (end of file)">End input</button>
      </form>`;
    const q = (selector) => panel.querySelector(selector);
    const view = {
      tab: tabButton, panel, output: q(".output"), phase: q(".phase"), usage: q(".usage"),
      stop: q(".stop"), input: q("input"), send: q(".send"), eof: q(".eof"),
    };
    view.output.setAttribute("aria-label", `Output of ${tab.mainFile}`);
    view.input.setAttribute("aria-label", `Input for ${tab.mainFile}`);
    view.input.placeholder = "Input for the program: Enter sends a line";
    view.stop.setAttribute("aria-label", `Stop ${tab.mainFile}`);
    q(".close").setAttribute("aria-label", `Close the console of ${tab.mainFile}`);
    view.stop.addEventListener("click", () => this.actions.stop(tab));
    q(".clear").addEventListener("click", () => view.output.replaceChildren());
    view.output.addEventListener("click", (e) => {
      const link = e.target.closest?.("a.location");
      if (!link) return;
      e.preventDefault();
      const { file, line, column } = link.dataset;
      this.actions.reveal(file, Number(line), column ? Number(column) : null);
    });
    q(".close").addEventListener("click", () => this.actions.close(tab));
    view.eof.addEventListener("click", () => this.actions.endInput(tab));
    q("form").addEventListener("submit", (e) => {
      e.preventDefault();
      if (!tab.acceptsInput) return;
      this.actions.sendInput(tab, view.input.value);
      view.input.value = "";
    });
    this.tablist.append(tabButton);
    this.panels.append(panel);
    this.views.set(tab, view);
    this.empty.hidden = true;
    this.select(tab, false);
    return view;
  }

  drawStatus(tab, view) {
    view.phase.textContent = tab.summary;
    view.usage.textContent = tab.usage;
    view.tab.dataset.phase = tab.phase;
    view.tab.dataset.verdict = tab.verdict ?? "";
    view.panel.dataset.phase = tab.phase;
    view.panel.dataset.verdict = tab.verdict ?? "";
    view.stop.disabled = !tab.canStop;
    const input = tab.acceptsInput;
    view.input.disabled = !input;
    view.send.disabled = !input;
    view.eof.disabled = !input;
    view.input.placeholder = tab.inputGiven
      ? "Its input was given before the run (Input before running)"
      : "Input for the program: Enter sends a line";
    view.tab.title = `${tab.mainFile}: ${tab.summary}`;
  }

  /**
   * Make the places in ``tab``'s output that name a project file's line into links (a run
   * ended: its output is whole). ``locate(text)`` finds them (diagnostics.js findLocations).
   */
  linkify(tab, locate) {
    const view = this.views.get(tab);
    if (!view) return;
    view.output.normalize(); // one text node per span: a location that came in two chunks is whole
    const walker = document.createTreeWalker(view.output, NodeFilter.SHOW_TEXT);
    const nodes = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.closest(".notice, .echo, table, a")) nodes.push(node);
    }
    for (const node of nodes) {
      const locations = locate(node.data);
      if (!locations.length) continue;
      linkLocations(node, locations);
    }
  }

  /** Show ``tab``'s panel; ``focus`` moves the keyboard to its input (or its tab). */
  select(tab, focus = false) {
    for (const [other, view] of this.views) {
      const on = other === tab;
      const revealed = on && view.panel.hidden;
      view.tab.setAttribute("aria-selected", String(on));
      view.tab.tabIndex = on ? 0 : -1;
      view.panel.hidden = !on;
      // A hidden panel cannot follow its output: show the end of what came meanwhile.
      if (revealed) view.output.scrollTop = view.output.scrollHeight;
    }
    if (!focus) return;
    const view = this.views.get(tab);
    if (view && !view.input.disabled) view.input.focus();
    else view?.tab.focus();
  }

  selected() {
    for (const [tab, view] of this.views) if (view.tab.getAttribute("aria-selected") === "true") return tab;
    return null;
  }

  remove(tab) {
    const view = this.views.get(tab);
    if (!view) return;
    const tabs = [...this.views.keys()];
    const next = tabs[tabs.indexOf(tab) + 1] ?? tabs[tabs.indexOf(tab) - 1];
    view.tab.remove();
    view.panel.remove();
    this.views.delete(tab);
    if (next) this.select(next, true);
    else this.empty.hidden = false;
  }

  onTabKey(e) {
    const tabs = [...this.views.keys()];
    const current = tabs.findIndex((t) => this.views.get(t).tab === document.activeElement);
    if (current === -1) return;
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: tabs.length - 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const next = tabs[(moves[e.key] + tabs.length) % tabs.length];
    this.select(next);
    this.views.get(next).tab.focus();
  }
}

function isNearBottom(element) {
  return element.scrollHeight - element.scrollTop - element.clientHeight < NEAR_BOTTOM_PX;
}

/**
 * Output goes into blocks of about BLOCK_CHARS characters, each cut after a newline: one
 * block of a megabyte of spans would be laid out again whole on every append, while a new
 * block leaves the ones before it alone.
 */
function appendText(output, stream, segments) {
  for (const segment of segments) {
    const { classes, css } = cssOf(segment.style);
    appendInline(output, [stream, ...classes].join(" "), css, segment.text);
  }
}

/** A line the user sent: inline, so that it continues a prompt such as "name? ". */
function appendEcho(output, text) {
  appendInline(output, "echo", {}, `${text}\n`);
}

function appendInline(output, className, css, text) {
  let rest = text;
  while (rest) {
    const block = openBlock(output);
    let piece = rest;
    const room = BLOCK_CHARS - block.chars;
    if (rest.length > room) {
      const cut = rest.lastIndexOf("\n", room - 1);
      const after = cut === -1 ? rest.indexOf("\n", room) : cut;
      piece = after === -1 ? rest : rest.slice(0, after + 1);
    }
    appendSpan(block, className, css, piece);
    block.chars += piece.length;
    block.full = block.chars >= BLOCK_CHARS && piece.endsWith("\n");
    rest = rest.slice(piece.length);
  }
}

function openBlock(output) {
  const last = output.lastElementChild;
  if (last?.classList.contains("block") && !last.full) return last;
  const block = document.createElement("div");
  block.className = "block";
  block.chars = 0;
  block.full = false;
  output.append(block);
  return block;
}

function appendSpan(block, className, css, text) {
  const last = block.lastElementChild;
  // Coalesce with the previous span when it looks the same: fewer nodes for long output.
  if (last && last.className === className && !Object.keys(css).length && !last.style.length) {
    last.append(text); // a new text node: no copy of what the span holds
    return;
  }
  const span = document.createElement("span");
  span.className = className;
  Object.assign(span.style, css);
  span.textContent = text;
  block.append(span);
}

/** A line from the IDE, not from the program: a block of its own. */
function appendNotice(output, text, level) {
  const line = document.createElement("div");
  line.className = `notice ${level}`;
  line.textContent = text;
  output.append(line);
}

/** An SQL result set as an HTML table; NULL shown as such, numbers right-aligned. */
/** Replace text ``node`` with its text and a clickable link (``a.location``, its file, line and
 * column in ``data-*``) for each of ``locations`` (``findLocations``' answer). */
export function linkLocations(node, locations) {
  const pieces = [];
  let at = 0;
  for (const { start, end, file, line, column } of locations) {
    pieces.push(node.data.slice(at, start));
    const link = document.createElement("a");
    link.href = "#";
    link.className = "location";
    link.textContent = node.data.slice(start, end);
    link.title = `Open ${file} at line ${line}${column ? `, column ${column}` : ""}`;
    Object.assign(link.dataset, { file, line: String(line), column: column ? String(column) : "" });
    pieces.push(link);
    at = end;
  }
  pieces.push(node.data.slice(at));
  node.replaceWith(...pieces.filter((p) => p !== ""));
}

export function renderTable(columns, rows) {
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  const table = document.createElement("table");
  table.className = "result";
  const head = table.createTHead().insertRow();
  for (const column of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = column;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const value of row) {
      const td = tr.insertCell();
      if (value === null) {
        td.textContent = "NULL";
        td.className = "null";
      } else {
        td.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
        if (typeof value === "number") td.className = "number";
      }
    }
  }
  const caption = table.createCaption();
  caption.textContent = `${rows.length} row${rows.length === 1 ? "" : "s"}`;
  wrap.append(table);
  return wrap;
}
