// The language-server protocol's values and the IDE's: which server serves a file, document URIs
// and project paths, and the servers' answers in Monaco's shapes (LSP counts lines and
// characters from 0, Monaco from 1; both count UTF-16 code units). No DOM and no Monaco here:
// Monaco's enums are passed in, so web/tests/lsp-convert.test.js runs this under Node.

/** Where the project's files are in the sandboxes, runs' and language servers' alike. */
export const ROOT_URI = "file:///workspace";

/**
 * The servers of the wire (docs/ide.md, Code intelligence): per server, the project's files it
 * reads (extension → LSP language id), Monaco's languages its providers serve, and the settings
 * sent once it runs (workspace/didChangeConfiguration).
 */
export const SERVERS = {
  python: {
    label: "Python", extensions: { ".py": "python" }, monaco: ["python"],
    // python-lsp-server: errors (pyflakes) yes; PEP 8 style (pycodestyle) and complexity
    // (mccabe) would mark half-typed code all over, which no peer's editor does by default.
    settings: { pylsp: { plugins: { pycodestyle: { enabled: false }, mccabe: { enabled: false } } } },
  },
  typescript: {
    label: "JavaScript and TypeScript",
    extensions: { ".js": "javascript", ".mjs": "javascript", ".ts": "typescript" },
    monaco: ["javascript", "typescript"],
  },
  cpp: {
    label: "C and C++",
    extensions: { ".c": "c", ".h": "c", ".cpp": "cpp", ".hpp": "cpp" },
    monaco: ["c", "cpp"],
  },
};

function extensionOf(path) {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot).toLowerCase() : "";
}

/** The server that reads ``path`` ("python", "typescript", "cpp"), or null. */
export function serverFor(path) {
  const ext = extensionOf(path);
  for (const [server, { extensions }] of Object.entries(SERVERS)) if (ext in extensions) return server;
  return null;
}

/** The LSP language id of ``path`` for didOpen ("python", "javascript", "c", …). */
export function languageIdOf(path) {
  const server = serverFor(path);
  return server === null ? null : SERVERS[server].extensions[extensionOf(path)];
}

/** A project path's document URI: file:///workspace/src/my%20file.py */
export function uriOf(path) {
  return `${ROOT_URI}/${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** The project path a server's URI names, or null (a file outside /workspace: a library's). */
export function pathOf(uri) {
  const prefix = `${ROOT_URI}/`;
  if (typeof uri !== "string" || !uri.startsWith(prefix)) return null;
  try {
    const path = uri.slice(prefix.length).split("/").map(decodeURIComponent).join("/");
    return path === "" || path.split("/").some((part) => part === "" || part === "." || part === "..")
      ? null : path;
  } catch {
    return null; // a malformed %-escape
  }
}

/** Monaco's position {lineNumber, column} (1-based) as LSP's {line, character} (0-based). */
export function toPosition({ lineNumber, column }) {
  return { line: lineNumber - 1, character: column - 1 };
}

/** LSP's range as Monaco's IRange. */
export function toRange({ start, end }) {
  return {
    startLineNumber: start.line + 1, startColumn: start.character + 1,
    endLineNumber: end.line + 1, endColumn: end.character + 1,
  };
}

const MARKDOWN_SPECIALS = /[\\`*_{}[\]()#+\-.!<>|~]/g;

/** LSP's MarkupContent or MarkedString as Monaco's IMarkdownString, or null when empty. */
export function toMarkdown(content) {
  if (content === null || content === undefined) return null;
  let value;
  if (typeof content === "string") value = content; // a MarkedString string is markdown
  else if (typeof content.kind === "string") {
    value = content.kind === "markdown" ? content.value : content.value.replace(MARKDOWN_SPECIALS, "\\$&");
  } else if (typeof content.language === "string") value = `\`\`\`${content.language}\n${content.value}\n\`\`\``;
  else return null;
  return value.trim() === "" ? null : { value };
}

// LSP's CompletionItemKind, 1 to 25, by the name Monaco's enum has for it.
const KIND_NAMES = [null, "Text", "Method", "Function", "Constructor", "Field", "Variable", "Class",
  "Interface", "Module", "Property", "Unit", "Value", "Enum", "Keyword", "Snippet", "Color", "File",
  "Reference", "Folder", "EnumMember", "Constant", "Struct", "Event", "Operator", "TypeParameter"];
const SNIPPET = 2; // InsertTextFormat.Snippet

/**
 * A completion answer (CompletionItem[] or CompletionList) as Monaco's CompletionList.
 * ``monaco`` holds the enums (``CompletionItemKind``, ``CompletionItemInsertTextRule``);
 * ``wordRange`` is the range an item without a textEdit replaces (the word at the cursor).
 * Each suggestion keeps the server's item as ``lspItem`` for completionItem/resolve.
 */
export function toCompletionList(result, monaco, wordRange) {
  const items = Array.isArray(result) ? result : result?.items ?? [];
  return {
    incomplete: !Array.isArray(result) && result?.isIncomplete === true,
    suggestions: items.map((item) => toSuggestion(item, monaco, wordRange)),
  };
}

export function toSuggestion(item, monaco, wordRange) {
  const kinds = monaco.CompletionItemKind;
  const edit = item.textEdit;
  let range = wordRange;
  if (edit?.range) range = toRange(edit.range);
  else if (edit?.insert) range = { insert: toRange(edit.insert), replace: toRange(edit.replace) };
  const suggestion = {
    label: item.labelDetails
      ? { label: item.label, detail: item.labelDetails.detail, description: item.labelDetails.description }
      : item.label,
    kind: kinds[KIND_NAMES[item.kind] ?? "Text"] ?? kinds.Text,
    insertText: edit ? edit.newText : item.insertText ?? item.label,
    range,
    lspItem: item,
  };
  if (item.insertTextFormat === SNIPPET) {
    suggestion.insertTextRules = monaco.CompletionItemInsertTextRule.InsertAsSnippet;
  }
  return Object.assign(suggestion, completionDetails(item));
}

/** The parts of an item that completionItem/resolve may fill in later. */
export function completionDetails(item) {
  const details = {};
  if (item.detail) details.detail = item.detail;
  const documentation = toMarkdown(item.documentation);
  if (documentation) details.documentation = documentation;
  for (const key of ["sortText", "filterText", "preselect", "commitCharacters"]) {
    if (item[key] !== undefined) details[key] = item[key];
  }
  if (item.additionalTextEdits?.length) {
    details.additionalTextEdits = item.additionalTextEdits.map((e) => ({ range: toRange(e.range), text: e.newText }));
  }
  if (item.tags?.length || item.deprecated) details.tags = item.tags ?? [1]; // 1: Deprecated, both
  return details;
}

/** Monaco's completion context (triggerKind from 0) as LSP's (from 1). */
export function toCompletionContext(context) {
  const lsp = { triggerKind: (context?.triggerKind ?? 0) + 1 };
  if (context?.triggerCharacter) lsp.triggerCharacter = context.triggerCharacter;
  return lsp;
}

/** A hover answer as Monaco's Hover, or null when it says nothing. */
export function toHover(result) {
  if (!result?.contents) return null;
  const parts = Array.isArray(result.contents) ? result.contents : [result.contents];
  const contents = parts.map(toMarkdown).filter((c) => c !== null);
  if (contents.length === 0) return null;
  return result.range ? { contents, range: toRange(result.range) } : { contents };
}

/** A signature help answer as Monaco's SignatureHelp, or null when it has no signature. */
export function toSignatureHelp(result) {
  if (!result?.signatures?.length) return null;
  const signatures = result.signatures.map((s) => {
    const signature = {
      label: s.label,
      parameters: (s.parameters ?? []).map((p) => {
        const parameter = { label: p.label };
        const documentation = toMarkdown(p.documentation);
        if (documentation) parameter.documentation = documentation;
        return parameter;
      }),
    };
    const documentation = toMarkdown(s.documentation);
    if (documentation) signature.documentation = documentation;
    if (typeof s.activeParameter === "number") signature.activeParameter = s.activeParameter;
    return signature;
  });
  return {
    signatures,
    activeSignature: Math.min(result.activeSignature ?? 0, signatures.length - 1),
    activeParameter: result.activeParameter ?? 0,
  };
}

/**
 * A definition answer (Location, Location[] or LocationLink[]) as the project's places:
 * [{path, range}], Monaco ranges. Places outside the project (a library's file) are left out:
 * the editor has no model for them.
 */
export function toPlaces(result) {
  if (!result) return [];
  const places = [];
  for (const target of Array.isArray(result) ? result : [result]) {
    const path = pathOf(target.targetUri ?? target.uri);
    const range = target.targetSelectionRange ?? target.range;
    if (path !== null && range) places.push({ path, range: toRange(range) });
  }
  return places;
}

/**
 * publishDiagnostics' diagnostics as Monaco's marker data; ``severities`` is
 * ``monaco.MarkerSeverity`` (LSP's 1 error, 2 warning, 3 information, 4 hint).
 */
export function toMarkers(diagnostics, severities) {
  const bySeverity = [null, severities.Error, severities.Warning, severities.Info, severities.Hint];
  return diagnostics.map((d) => {
    const marker = {
      ...toRange(d.range),
      severity: bySeverity[d.severity] ?? severities.Error,
      message: d.message,
      source: d.source ?? "language server",
    };
    if (d.code !== undefined && d.code !== null) marker.code = String(d.code);
    if (d.tags?.length) marker.tags = d.tags; // 1 Unnecessary, 2 Deprecated: Monaco's MarkerTag too
    return marker;
  });
}
