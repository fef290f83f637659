// A small ANSI renderer's parsing half: text with SGR escape sequences in, styled segments out.
// No DOM here (web/tests/ansi.test.js runs it under Node). One parser per output stream, since
// a stream's colour state carries over from one chunk to the next, as does a sequence split
// across two chunks.

const ESC = "\x1b";
const MAX_PENDING = 256; // an "escape sequence" longer than this is text, not a sequence
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;

/** @typedef {{fg?: number|string, bg?: number|string, bold?: boolean, dim?: boolean,
 *   italic?: boolean, underline?: boolean, inverse?: boolean, strike?: boolean}} Style */
/** @typedef {{text: string, style: Style}} Segment */

export class AnsiParser {
  constructor() {
    /** @type {Style} */
    this.style = {};
    this.pending = "";
  }

  /** Parse one chunk; returns the segments it completes (a trailing partial sequence waits). */
  feed(chunk) {
    const text = this.pending + chunk;
    this.pending = "";
    /** @type {Segment[]} */
    const out = [];
    let plain = "";
    let i = 0;
    const emit = () => {
      if (plain) push(out, plain, this.style);
      plain = "";
    };
    while (i < text.length) {
      const ch = text[i];
      if (ch === "\r") {
        if (i + 1 === text.length) { this.pending = "\r"; break; }
        // A lone carriage return (progress bars) becomes a line break: output is a log here.
        if (text[i + 1] !== "\n") plain += "\n";
        i += 1;
        continue;
      }
      if (ch !== ESC) { plain += ch; i += 1; continue; }
      const end = sequenceEnd(text, i);
      if (end === -1) {
        if (text.length - i <= MAX_PENDING) { this.pending = text.slice(i); break; }
        i += 1; // an ESC that starts nothing we know: drop it, keep the text
        continue;
      }
      if (text[i + 1] === "[" && text[end - 1] === "m") {
        emit();
        this.style = applySgr(this.style, text.slice(i + 2, end - 1));
      }
      i = end; // other sequences (cursor moves, titles, links) are dropped
    }
    emit();
    return out;
  }

  /** What is left at the end of the stream, as text. */
  flush() {
    const rest = this.pending === "\r" ? "" : this.pending.replace(ESC, "");
    this.pending = "";
    const out = [];
    if (rest) push(out, rest, this.style);
    return out;
  }
}

function push(out, text, style) {
  const clean = text.replace(CONTROLS, "");
  if (!clean) return;
  const last = out[out.length - 1];
  if (last && last.style === style) last.text += clean;
  else out.push({ text: clean, style });
}

/** The index just past the escape sequence starting at ``i``, or -1 if it is incomplete. */
function sequenceEnd(text, i) {
  const kind = text[i + 1];
  if (kind === undefined) return -1;
  if (kind === "[") { // CSI: parameters and intermediates, then one final byte @..~
    for (let j = i + 2; j < text.length; j += 1) {
      const code = text.charCodeAt(j);
      if (code >= 0x40 && code <= 0x7e) return j + 1;
      if (code < 0x20 || code > 0x3f) return j; // malformed: end it before this character
    }
    return -1;
  }
  if (kind === "]" || kind === "P" || kind === "_" || kind === "^") { // OSC, DCS...: to BEL or ST
    for (let j = i + 2; j < text.length; j += 1) {
      if (text[j] === "\x07") return j + 1;
      if (text[j] === ESC) {
        if (j + 1 === text.length) return -1;
        if (text[j + 1] === "\\") return j + 2;
      }
    }
    return -1;
  }
  if (kind >= " " && kind <= "/") return i + 2 < text.length ? i + 3 : -1; // ESC ( B and kin
  return i + 2; // a two-character sequence such as ESC 7
}

/** The style after the SGR parameters ``params`` (the text between ``ESC [`` and ``m``). */
export function applySgr(style, params) {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  const next = { ...style };
  for (let k = 0; k < codes.length; k += 1) {
    const code = codes[k];
    if (code === 38 || code === 48) {
      const [color, used] = extendedColor(codes, k + 1);
      if (color !== undefined) next[code === 38 ? "fg" : "bg"] = color;
      k += used;
      continue;
    }
    applyCode(next, code);
  }
  for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
  return Object.freeze(next);
}

const FLAGS = {
  1: ["bold", true], 2: ["dim", true], 3: ["italic", true], 4: ["underline", true],
  7: ["inverse", true], 9: ["strike", true], 23: ["italic", undefined],
  24: ["underline", undefined], 27: ["inverse", undefined], 29: ["strike", undefined],
};

function applyCode(style, code) {
  if (code === 0) {
    for (const key of Object.keys(style)) delete style[key];
  } else if (code === 22) {
    style.bold = undefined;
    style.dim = undefined;
  } else if (FLAGS[code]) {
    style[FLAGS[code][0]] = FLAGS[code][1];
  } else if (code >= 30 && code <= 37) style.fg = code - 30;
  else if (code >= 90 && code <= 97) style.fg = code - 90 + 8;
  else if (code === 39) style.fg = undefined;
  else if (code >= 40 && code <= 47) style.bg = code - 40;
  else if (code >= 100 && code <= 107) style.bg = code - 100 + 8;
  else if (code === 49) style.bg = undefined;
}

/** ``38;5;n`` or ``38;2;r;g;b`` (also with ``:``): the colour and how many codes it used. */
function extendedColor(codes, at) {
  if (codes[at] === 5) {
    const n = codes[at + 1];
    return [Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined, 2];
  }
  if (codes[at] === 2) {
    const rgb = codes.slice(at + 1, at + 4);
    const ok = rgb.length === 3 && rgb.every((v) => Number.isInteger(v) && v >= 0 && v <= 255);
    return [ok ? hex(rgb) : undefined, 4];
  }
  return [undefined, 0];
}

function hex(rgb) {
  return "#" + rgb.map((v) => v.toString(16).padStart(2, "0")).join("");
}

/** The 256-colour palette's entries 16..255 as CSS colours (0..15 are themed by CSS classes). */
export function color256(n) {
  if (n < 16 || n > 255) throw new RangeError(`not an extended palette index: ${n}`);
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return hex([level, level, level]);
  }
  const steps = [0, 95, 135, 175, 215, 255];
  const i = n - 16;
  return hex([steps[Math.floor(i / 36)], steps[Math.floor(i / 6) % 6], steps[i % 6]]);
}

/** How a style is drawn: CSS classes (themed colours 0..15 and flags) and inline colours. */
export function cssOf(style) {
  const classes = [];
  const css = {};
  let { fg, bg } = style;
  if (style.inverse) [fg, bg] = [bg ?? "default-bg", fg ?? "default-fg"];
  for (const [key, value] of [["fg", fg], ["bg", bg]]) {
    if (value === undefined) continue;
    if (typeof value === "number" && value < 16) classes.push(`ansi-${key}-${value}`);
    else if (typeof value === "number") css[key === "fg" ? "color" : "backgroundColor"] = color256(value);
    else if (value.startsWith("#")) css[key === "fg" ? "color" : "backgroundColor"] = value;
    else classes.push(`ansi-${key}-${value}`);
  }
  for (const flag of ["bold", "dim", "italic", "underline", "strike"]) {
    if (style[flag]) classes.push(`ansi-${flag}`);
  }
  return { classes, css };
}
