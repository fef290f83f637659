// Notebook outputs as DOM (the choice of what to show is outputs.js's): stream text and
// tracebacks through the ANSI renderer, images as <img> of data: URLs, HTML only in an
// <iframe sandbox=""> (notebook HTML is untrusted), markdown as text nodes.

import { AnsiParser, cssOf } from "./ansi.js";
import { parseMarkdown } from "./markdown.js";
import { htmlDocument, htmlHeight, outputView } from "./outputs.js";

/** An element with a class and text (never HTML). */
export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/**
 * Append one nbformat output to ``outputs``. Consecutive stream outputs of one stream go on in
 * one block, through the parser kept in ``parsers`` (so colours carry over); ``owner`` names the
 * cell for the frame's title.
 */
export function appendOutput(outputs, parsers, output, owner) {
  const shown = outputView(output);
  switch (shown.kind) {
    case "stream": {
      let block = outputs.lastElementChild;
      if (!block?.classList.contains(`stream-${shown.name}`)) {
        block = outputs.appendChild(el("pre", `out stream stream-${shown.name}`));
        parsers[shown.name] = new AnsiParser();
      }
      appendAnsi(block, parsers[shown.name].feed(shown.text));
      break;
    }
    case "error":
    case "text": {
      const pre = outputs.appendChild(el("pre", `out ${shown.kind}`));
      const parser = new AnsiParser();
      appendAnsi(pre, [...parser.feed(shown.text), ...parser.flush()]);
      break;
    }
    case "image": {
      const img = outputs.appendChild(el("img", "out image"));
      img.alt = shown.alt;
      img.src = shown.src;
      break;
    }
    case "html": {
      const frame = outputs.appendChild(el("iframe", "out html"));
      frame.setAttribute("sandbox", ""); // untrusted: no scripts, forms, popups or same origin
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.title = `HTML output of ${owner}`;
      frame.style.height = `${htmlHeight(shown.html)}px`;
      frame.srcdoc = htmlDocument(shown.html);
      break;
    }
    case "markdown": {
      const div = outputs.appendChild(el("div", "out markdown-view"));
      div.append(renderMarkdown(parseMarkdown(shown.text)));
      break;
    }
    default:
      outputs.append(el("p", "out unknown muted", shown.text));
  }
}

function appendAnsi(parent, segments) {
  for (const segment of segments) {
    const { classes, css } = cssOf(segment.style);
    const last = parent.lastElementChild;
    if (last && !classes.length && !Object.keys(css).length && !last.className && !last.style.length) {
      last.append(segment.text);
      continue;
    }
    const span = el("span", classes.join(" "));
    Object.assign(span.style, css);
    span.textContent = segment.text;
    parent.append(span);
  }
}

/** Markdown blocks (markdown.js) as DOM: text nodes only, links opened elsewhere. */
export function renderMarkdown(blocks) {
  const fragment = document.createDocumentFragment();
  for (const block of blocks) {
    let node;
    switch (block.type) {
      case "heading":
        node = el(`h${Math.min(6, block.level + 2)}`, `md-h${block.level}`);
        node.append(...inlineNodes(block.inlines));
        break;
      case "paragraph":
      case "quote":
        node = el(block.type === "quote" ? "blockquote" : "p");
        node.append(...inlineNodes(block.inlines));
        break;
      case "code":
        node = el("pre");
        node.append(el("code", "", block.text));
        break;
      case "list":
        node = el(block.ordered ? "ol" : "ul");
        for (const item of block.items) {
          const li = el("li");
          li.append(...inlineNodes(item));
          node.append(li);
        }
        break;
      default:
        node = el("hr");
    }
    fragment.append(node);
  }
  return fragment;
}

function inlineNodes(inlines) {
  return inlines.map((run) => {
    if (run.type === "text") return document.createTextNode(run.text);
    if (run.type !== "link") return el(run.type, "", run.text);
    const a = el("a", "", run.text);
    a.href = run.href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  });
}
