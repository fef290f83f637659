// Fakes shared by the language-server tests: a clock whose timers run when told, a wire that
// keeps what the IDE sent, and Monaco's enums.

export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.nextId = 1;
  }

  setTimeout = (fn, ms) => {
    const id = this.nextId++;
    this.timers.set(id, { fn, at: this.now + ms });
    return id;
  };

  clearTimeout = (id) => {
    this.timers.delete(id);
  };

  /** Move time on by ``ms``, running the timers due, in order. */
  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

/** Promises' callbacks run (an answer's .then). */
export const settle = () => new Promise((resolve) => setImmediate(resolve));

export const MONACO = {
  CompletionItemKind: { Method: 0, Function: 1, Constructor: 2, Field: 3, Variable: 4, Class: 5,
    Struct: 6, Interface: 7, Module: 8, Property: 9, Event: 10, Operator: 11, Unit: 12, Value: 13,
    Constant: 14, Enum: 15, EnumMember: 16, Keyword: 17, Text: 18, Color: 19, File: 20,
    Reference: 21, Customcolor: 22, Folder: 23, TypeParameter: 24, User: 25, Issue: 26, Tool: 27, Snippet: 28 },
  CompletionItemInsertTextRule: { KeepWhitespace: 1, InsertAsSnippet: 4 },
  MarkerSeverity: { Hint: 1, Info: 2, Warning: 4, Error: 8 },
};
