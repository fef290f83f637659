// A small subset of Markdown for notebook cells, parsed into blocks and inline runs that the view
// builds as DOM nodes (text nodes only: no HTML from the notebook is ever parsed). No DOM here
// (web/tests/markdown.test.js). It covers headings, paragraphs, fenced and indented code, lists,
// quotes, rules, `code`, **strong**, *emphasis* and [links](https://…); inline HTML and
// anything else stay as the text they are.

/** @typedef {{type: "text"|"code"|"strong"|"em", text: string}
 *   | {type: "link", text: string, href: string}} Inline */

/** Blocks: {type: "heading", level, inlines} | {type: "paragraph", inlines} |
 * {type: "code", text} | {type: "list", ordered, items: Inline[][]} | {type: "quote", inlines}
 * | {type: "rule"} */
export function parseMarkdown(source) {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let paragraph = [];
  const endParagraph = () => {
    if (paragraph.length) blocks.push({ type: "paragraph", inlines: parseInline(paragraph.join(" ")) });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      endParagraph();
      const code = [];
      for (i += 1; i < lines.length && !lines[i].trim().startsWith(fence[1]); i += 1) code.push(lines[i]);
      blocks.push({ type: "code", text: code.join("\n") });
      continue;
    }
    if (line.trim() === "") { endParagraph(); continue; }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      endParagraph();
      blocks.push({ type: "heading", level: heading[1].length, inlines: parseInline(heading[2]) });
      continue;
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) { endParagraph(); blocks.push({ type: "rule" }); continue; }
    const item = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line);
    if (item) {
      endParagraph();
      const ordered = /\d/.test(item[1]);
      const last = blocks[blocks.length - 1];
      const list = last?.type === "list" && last.ordered === ordered && last.open
        ? last : { type: "list", ordered, items: [], open: true };
      if (list !== last) blocks.push(list);
      list.items.push(item[2]); // raw text until the end: a continuation line may follow
      continue;
    }
    const previous = blocks[blocks.length - 1];
    if (previous?.type === "list" && previous.open && paragraph.length === 0 && /^\s+/.test(line)) {
      previous.items[previous.items.length - 1] += ` ${line.trim()}`;
      continue;
    }
    if (/^ {4}|^\t/.test(line) && paragraph.length === 0) {
      const code = [line.replace(/^ {4}|^\t/, "")];
      while (i + 1 < lines.length && (/^ {4}|^\t/.test(lines[i + 1]) || lines[i + 1].trim() === "")) {
        i += 1;
        code.push(lines[i].replace(/^ {4}|^\t/, ""));
      }
      while (code.length && code[code.length - 1].trim() === "") code.pop();
      blocks.push({ type: "code", text: code.join("\n") });
      continue;
    }
    const quote = /^\s{0,3}>\s?(.*)$/.exec(line);
    if (quote) {
      endParagraph();
      blocks.push({ type: "quote", inlines: parseInline(quote[1]) });
      continue;
    }
    paragraph.push(line.trim());
  }
  endParagraph();
  for (const block of blocks) {
    if (block.type !== "list") continue;
    delete block.open;
    block.items = block.items.map(parseInline);
  }
  return blocks;
}

const INLINE = /`([^`]+)`|\*\*(.+?)\*\*|(?<![A-Za-z0-9])__(.+?)__(?![A-Za-z0-9])|\*([^*\s][^*]*?)\*|(?<![A-Za-z0-9])_([^_\s][^_]*?)_(?![A-Za-z0-9])|\[([^\]]+)\]\(([^)\s]+)\)/g;

/** Inline runs of one line of text. Links keep only http(s) and mailto addresses. */
export function parseInline(text) {
  const out = [];
  let at = 0;
  const pushText = (t) => {
    if (!t) return;
    const last = out[out.length - 1];
    if (last?.type === "text") last.text += t;
    else out.push({ type: "text", text: t });
  };
  for (const match of text.matchAll(INLINE)) {
    pushText(text.slice(at, match.index));
    at = match.index + match[0].length;
    const [, code, strong1, strong2, em1, em2, label, href] = match;
    if (code !== undefined) out.push({ type: "code", text: code });
    else if (strong1 ?? strong2) out.push({ type: "strong", text: strong1 ?? strong2 });
    else if (em1 ?? em2) out.push({ type: "em", text: em1 ?? em2 });
    else if (/^(https?:|mailto:)/i.test(href)) out.push({ type: "link", text: label, href });
    else pushText(match[0]);
  }
  pushText(text.slice(at));
  return out;
}
