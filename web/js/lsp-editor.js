// The language servers in Monaco: completion, hover, signature help and go to definition as
// providers, publishDiagnostics as markers (owner "lsp:<server>", apart from a run's), the other
// file opened when a definition is in it, and a quiet status line for the open file's server.
// Decisions are in lsp-servers.js, lsp-client.js and lsp-convert.js (no DOM, unit-tested); this
// module only connects them to Monaco and the page.

import {
  SERVERS, completionDetails, serverFor, toCompletionContext, toCompletionList, toHover, toMarkers,
  toPlaces, toPosition, toSignatureHelp, uriOf,
} from "./lsp-convert.js";

/** What the status line says of the open file's server, by its state; "" says nothing. */
const STATUS = {
  starting: (label) => `Starting the ${label} language server…`,
  unavailable: (label, message) => `No ${label} code intelligence (${message}); the editor works without it.`,
  stopped: (label, message) => `The ${label} language server stopped (${message}); typing starts it again.`,
};

export class LspEditor {
  /**
   * @param {any} monaco
   * @param {import("./lsp-servers.js").LanguageServers} servers
   * @param {{status: HTMLElement, openPath: () => string | null,
   *   openModel: (path: string) => any, reveal: (path: string, line: number, column: number) => void}} page
   *   ``openModel``: the model of a project file, made if need be (null: not a project file);
   *   ``reveal``: open a project file with the cursor at a place.
   */
  constructor(monaco, servers, page) {
    this.monaco = monaco;
    this.servers = servers;
    this.page = page;
    this.registered = new Set();
    /** @type {Map<string, Map<string, object[]>>} server → path → its LSP diagnostics */
    this.diagnostics = new Map(Object.keys(SERVERS).map((server) => [server, new Map()]));
    this.builtIn = true;
    this.leaveTypeScriptToTheServer();
    servers.on("ready", (server, capabilities) => this.register(server, capabilities));
    servers.on("diagnostics", (server, path, diagnostics) => this.setDiagnostics(server, path, diagnostics));
    servers.on("state", () => this.draw());
    servers.watch(() => this.draw());
    for (const [server, client] of servers.clients) {
      if (client.capabilities) this.register(server, client.capabilities);
    }
    monaco.editor.onDidCreateModel((model) => this.markModel(model));
    monaco.editor.registerEditorOpener({
      openCodeEditor: (source, resource, place) => this.openDefinition(resource, place),
    });
  }

  pathOf(model) {
    return model.uri.scheme === "file" ? model.uri.path.slice(1) : null;
  }

  modelUri(path) {
    return this.monaco.Uri.from({ scheme: "file", path: `/${path}` });
  }

  /** The open file's server in the status line; Monaco's syntax checks while TypeScript's is off. */
  draw() {
    const path = this.page.openPath();
    const server = path === null ? null : serverFor(path);
    const client = server === null ? null : this.servers.client(server);
    const status = this.page.status;
    status.dataset.server = server ?? "";
    status.dataset.state = client?.state ?? "";
    const say = client ? STATUS[client.state] : null;
    const text = say ? say(SERVERS[server].label, client.message) : "";
    if (status.textContent !== text) { // a status region says again what is written again
      status.textContent = text;
      status.title = text; // the line may be cut short
    }
    this.useBuiltIn(this.servers.client("typescript").state !== "running");
  }

  /** Monaco's own TypeScript service, for .js and .ts files. */
  typeScriptDefaults() {
    const ts = this.monaco.typescript ?? this.monaco.languages.typescript;
    return [ts?.typescriptDefaults, ts?.javascriptDefaults].filter(Boolean);
  }

  /**
   * Monaco's TypeScript service knows the browser's library, not Node's, and one file at a
   * time: its completion, hover, signature help and definitions are off for good, the
   * TypeScript server's are the ones. Monaco reads them once, when the first .js or .ts model
   * is made (so this runs before any file is shown); they cannot be switched back later.
   */
  leaveTypeScriptToTheServer() {
    for (const defaults of this.typeScriptDefaults()) {
      defaults.setModeConfiguration({ ...defaults.modeConfiguration,
        completionItems: false, hovers: false, signatureHelp: false, definitions: false });
    }
  }

  /** Monaco's syntax checks of .js and .ts files while the TypeScript server does not run. */
  useBuiltIn(on) {
    if (on === this.builtIn) return;
    this.builtIn = on;
    for (const defaults of this.typeScriptDefaults()) {
      defaults.setDiagnosticsOptions({ ...defaults.getDiagnosticsOptions(),
        noSyntaxValidation: !on, noSuggestionDiagnostics: !on });
    }
  }

  /** A request for ``model``'s document, when it is a file of ``server``'s; null otherwise. */
  ask(server, model, method, params, token) {
    const path = this.pathOf(model);
    if (path === null || serverFor(path) !== server) return Promise.resolve(null);
    return this.servers.request(server, method, { textDocument: { uri: uriOf(path) }, ...params }, token);
  }

  /** The providers of ``server``, once, for what its first start said it can do. */
  register(server, capabilities) {
    if (this.registered.has(server)) return;
    this.registered.add(server);
    const languages = SERVERS[server].monaco;
    const api = this.monaco.languages;
    const completion = capabilities.completionProvider;
    if (completion) api.registerCompletionItemProvider(languages, this.completionProvider(server, completion));
    if (capabilities.hoverProvider) {
      api.registerHoverProvider(languages, {
        provideHover: async (model, position, token) => toHover(await this.ask(server, model,
          "textDocument/hover", { position: toPosition(position) }, token)),
      });
    }
    const signature = capabilities.signatureHelpProvider;
    if (signature) api.registerSignatureHelpProvider(languages, this.signatureProvider(server, signature));
    if (capabilities.definitionProvider) {
      api.registerDefinitionProvider(languages, {
        provideDefinition: (model, position, token) => this.definition(server, model, position, token),
      });
    }
  }

  completionProvider(server, options) {
    const provider = {
      triggerCharacters: options.triggerCharacters ?? [],
      provideCompletionItems: async (model, position, context, token) => {
        const word = model.getWordUntilPosition(position);
        const range = { startLineNumber: position.lineNumber, endLineNumber: position.lineNumber,
          startColumn: word.startColumn, endColumn: word.endColumn };
        const result = await this.ask(server, model, "textDocument/completion",
          { position: toPosition(position), context: toCompletionContext(context) }, token);
        return result === null ? null : toCompletionList(result, this.monaco.languages, range);
      },
    };
    if (options.resolveProvider) {
      provider.resolveCompletionItem = async (item, token) => {
        const resolved = await this.servers.request(server, "completionItem/resolve", item.lspItem, token);
        return resolved ? Object.assign(item, completionDetails(resolved)) : item;
      };
    }
    return provider;
  }

  signatureProvider(server, options) {
    return {
      signatureHelpTriggerCharacters: options.triggerCharacters ?? [],
      signatureHelpRetriggerCharacters: options.retriggerCharacters ?? [],
      provideSignatureHelp: async (model, position, token, context) => {
        // Monaco's trigger kinds are LSP's (1 invoked, 2 a character, 3 a content change).
        const value = toSignatureHelp(await this.ask(server, model, "textDocument/signatureHelp", {
          position: toPosition(position),
          context: { triggerKind: context.triggerKind, triggerCharacter: context.triggerCharacter,
            isRetrigger: context.isRetrigger },
        }, token));
        return value && { value, dispose() {} };
      },
    };
  }

  /** Definitions in the project's files; their models are made, so that Monaco can show them. */
  async definition(server, model, position, token) {
    const result = await this.ask(server, model, "textDocument/definition",
      { position: toPosition(position) }, token);
    return toPlaces(result).filter((place) => this.page.openModel(place.path))
      .map((place) => ({ uri: this.modelUri(place.path), range: place.range }));
  }

  /** Go to definition into another file: the page opens it with the cursor there. */
  openDefinition(resource, place) {
    const path = resource.scheme === "file" ? resource.path.slice(1) : null;
    if (path === null || !this.page.openModel(path)) return false;
    this.page.reveal(path, place?.startLineNumber ?? place?.lineNumber ?? 1,
      place?.startColumn ?? place?.column ?? 1);
    return true;
  }

  /** ``path``'s diagnostics from ``server`` (``path`` null: none anywhere, the server went). */
  setDiagnostics(server, path, diagnostics) {
    const known = this.diagnostics.get(server);
    const paths = path === null ? [...known.keys()] : [path];
    if (path === null) known.clear();
    else if (diagnostics.length) known.set(path, diagnostics);
    else known.delete(path);
    for (const p of paths) {
      const model = this.monaco.editor.getModel(this.modelUri(p));
      if (model) this.mark(server, model, known.get(p) ?? []);
    }
  }

  /** A model just made (a file opened): the diagnostics the servers gave for it. */
  markModel(model) {
    const path = this.pathOf(model);
    if (path === null) return;
    for (const [server, known] of this.diagnostics) {
      if (known.has(path)) this.mark(server, model, known.get(path));
    }
  }

  mark(server, model, diagnostics) {
    this.monaco.editor.setModelMarkers(model, `lsp:${server}`, toMarkers(diagnostics, this.monaco.MarkerSeverity));
  }
}
