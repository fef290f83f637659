import assert from "node:assert/strict";
import { test } from "node:test";

import { findLocations, parseDiagnostics, resolvePath, toMarkers } from "../js/diagnostics.js";

// Real stderr of broken programs, as the platform returned it (POST /api/v1/executions with
// each language's runtime image, December 2026: GCC 12, OpenJDK 17, Go, rustc, tsc, CPython
// 3.11, Node 18, Ruby 3.1, PHP 8.2, Perl 5.36, Lua 5.4, Bash 5.2).
const SAMPLES = {
  c: "main.c: In function ‘main’:\nmain.c:4:13: warning: initialization of ‘int’ from ‘char *’ makes integer from pointer without a cast [-Wint-conversion]\n    4 |     int x = \"s\";\n      |             ^~~\nmain.c:5:12: error: ‘missing’ undeclared (first use in this function)\n    5 |     return missing;\n      |            ^~~~~~~\nmain.c:5:12: note: each undeclared identifier is reported only once for each function it appears in\n",
  cpp: "main.cpp: In function ‘int main()’:\nmain.cpp:4:18: error: ‘undefined_name’ was not declared in this scope\n    4 |     std::cout << undefined_name << std::endl;\n      |                  ^~~~~~~~~~~~~~\n",
  cpp_template: "main.cpp: In instantiation of ‘int twice(T) [with T = std::__cxx11::basic_string<char>]’:\nmain.cpp:9:17:   required from here\nmain.cpp:5:14: error: no match for ‘operator*’ (operand types are ‘std::__cxx11::basic_string<char>’ and ‘int’)\n    5 |     return x * 2;\n      |            ~~^~~\n",
  ts_runtime: "file:///workspace/main.ts:3\n    throw new Error(\"bad \" + n);\n          ^\n\nError: bad 1\n    at f (file:///workspace/main.ts:3:11)\n    at Object.<anonymous> (file:///workspace/main.ts:7:1)\n    at Module._compile (node:internal/modules/cjs/loader:1872:14)\n    at Object..js (node:internal/modules/cjs/loader:2003:10)\n    at Module.load (node:internal/modules/cjs/loader:1594:32)\n    at Module._load (node:internal/modules/cjs/loader:1396:12)\n    at wrapModuleLoad (node:internal/modules/cjs/loader:255:19)\n    at loadCJSModuleWithModuleLoad (node:internal/modules/esm/translators:372:15)\n    at ModuleWrap.<anonymous> (node:internal/modules/esm/translators:244:9)\n    at ModuleJob.run (node:internal/modules/esm/module_job:439:25)\n\nNode.js v24.19.0\n",
  java: "Main.java:3: error: incompatible types: String cannot be converted to int\n        int x = \"s\";\n                ^\nMain.java:4: error: cannot find symbol\n        System.out.println(y);\n                           ^\n  symbol:   variable y\n  location: class Main\n2 errors\n",
  java_runtime: "Exception in thread \"main\" java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 1\n\tat Main.main(Main.java:4)\n",
  go: "# command-line-arguments\n./main.go:6:2: x declared but not used\n./main.go:7:14: undefined: y\n",
  go_runtime: "panic: runtime error: index out of range [3] with length 0\n\ngoroutine 1 [running]:\nmain.main()\n\t/workspace/main.go:5 +0x1a\n",
  rust: "error[E0425]: cannot find value `y` in this scope\n --> main.rs:3:20\n  |\n3 |     println!(\"{}\", y);\n  |                    ^ help: a local variable with a similar name exists: `x`\n\nerror: aborting due to previous error\n\nFor more information about this error, try `rustc --explain E0425`.\n",
  rust_warning: "warning: unused variable: `unused`\n --> main.rs:2:9\n  |\n2 |     let unused = 5;\n  |         ^^^^^^ help: if this is intentional, prefix it with an underscore: `_unused`\n  |\n  = note: `#[warn(unused_variables)]` on by default\n\nwarning: 1 warning emitted\n\n",
  typescript: "main.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n",
  python: "Traceback (most recent call last):\n  File \"/opt/coderunner/zygote.py\", line 165, in run_main\n    exec(compile(source, path, \"exec\"), module.__dict__)\n  File \"/workspace/main.py\", line 5, in <module>\n    f(0)\n  File \"/workspace/main.py\", line 2, in f\n    return 1 / x\n           ~~^~~\nZeroDivisionError: division by zero\n",
  python_syntax: "Traceback (most recent call last):\n  File \"/opt/coderunner/zygote.py\", line 165, in run_main\n    exec(compile(source, path, \"exec\"), module.__dict__)\n         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"/workspace/main.py\", line 2\n    if True\n           ^\nSyntaxError: expected ':'\n",
  python_module: "Traceback (most recent call last):\n  File \"/opt/coderunner/zygote.py\", line 165, in run_main\n    exec(compile(source, path, \"exec\"), module.__dict__)\n  File \"/workspace/main.py\", line 2, in <module>\n    print(half(0))\n          ^^^^^^^\n  File \"/workspace/lib/util.py\", line 2, in half\n    return 1 / x\n           ~~^~~\nZeroDivisionError: division by zero\n",
  javascript: "/workspace/main.js:3\n  return undefinedThing + 1;\n  ^\n\nReferenceError: undefinedThing is not defined\n    at f (/workspace/main.js:3:3)\n    at Object.<anonymous> (/workspace/main.js:5:1)\n    at Module._compile (node:internal/modules/cjs/loader:1364:14)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
  javascript_syntax: "/workspace/main.js:2\nlet x = ;\n        ^\n\nSyntaxError: Unexpected token ';'\n    at internalCompileFunction (node:internal/vm:76:18)\n    at wrapSafe (node:internal/modules/cjs/loader:1283:20)\n    at Module._compile (node:internal/modules/cjs/loader:1328:27)\n    at Module._extensions..js (node:internal/modules/cjs/loader:1422:10)\n    at Module.load (node:internal/modules/cjs/loader:1203:32)\n    at Module._load (node:internal/modules/cjs/loader:1019:12)\n    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:128:12)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v18.20.4\n",
  ruby: "main.rb:3:in `f': undefined local variable or method `undefined_thing' for main:Object (NameError)\n\n  undefined_thing + 1\n  ^^^^^^^^^^^^^^^\n\tfrom main.rb:5:in `<main>'\n",
  ruby_syntax: "main.rb:2: syntax error, unexpected end-of-input, expecting ')'\ndef f(\n      ^\n",
  php: "PHP Fatal error:  Uncaught Error: Call to a member function method() on null in /workspace/main.php:4\nStack trace:\n#0 {main}\n  thrown in /workspace/main.php on line 4\n",
  php_syntax: "PHP Parse error:  syntax error, unexpected token \"echo\", expecting \",\" or \";\" in /workspace/main.php on line 3\n",
  perl: "something broke at main.pl line 4.\n",
  perl_syntax: "syntax error at main.pl line 2, near \"= ;\"\nExecution of main.pl aborted due to compilation errors.\n",
  lua: "lua5.4: main.lua:3: attempt to index a nil value (local 't')\nstack traceback:\n\tmain.lua:3: in main chunk\n\t[C]: in ?\n",
  lua_syntax: "lua5.4: main.lua:2: <name> expected near '='\n",
  bash: "main.sh: line 2: not_a_command_xyz: command not found\n",
  bash_syntax: "main.sh: line 2: syntax error near unexpected token `then'\nmain.sh: line 2: `if then'\n",};

const FILES = new Set(["main.c", "main.cpp", "Main.java", "main.go", "main.rs", "main.ts", "main.py",
  "lib/util.py", "main.js", "main.rb", "main.php", "main.pl", "main.lua", "main.sh"]);

const at = (file, line, column, severity, message) => ({ file, line, column, severity, message });

const EXPECTED = {
  c: [at("main.c", 4, 13, "warning", "initialization of ‘int’ from ‘char *’ makes integer from pointer without a cast [-Wint-conversion]"),
    at("main.c", 5, 12, "error", "‘missing’ undeclared (first use in this function)")],
  cpp: [at("main.cpp", 4, 18, "error", "‘undefined_name’ was not declared in this scope")],
  cpp_template: [at("main.cpp", 5, 14, "error", "no match for ‘operator*’ (operand types are ‘std::__cxx11::basic_string<char>’ and ‘int’)")],
  // Node 24 runs main.ts by type stripping (its lines are the source's) and names it by URL.
  ts_runtime: [at("main.ts", 3, 11, "error", "Error: bad 1")],
  java: [at("Main.java", 3, 17, "error", "incompatible types: String cannot be converted to int"),
    at("Main.java", 4, 28, "error", "cannot find symbol")],
  java_runtime: [at("Main.java", 4, null, "error", "java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 1")],
  go: [at("main.go", 6, 2, "error", "x declared but not used"), at("main.go", 7, 14, "error", "undefined: y")],
  go_runtime: [at("main.go", 5, null, "error", "runtime error: index out of range [3] with length 0")],
  rust: [at("main.rs", 3, 20, "error", "cannot find value `y` in this scope")],
  rust_warning: [at("main.rs", 2, 9, "warning", "unused variable: `unused`")],
  typescript: [at("main.ts", 3, 7, "error", "TS2322: Type 'string' is not assignable to type 'number'.")],
  python: [at("main.py", 2, null, "error", "ZeroDivisionError: division by zero")],
  python_syntax: [at("main.py", 2, null, "error", "SyntaxError: expected ':'")],
  python_module: [at("lib/util.py", 2, null, "error", "ZeroDivisionError: division by zero")],
  javascript: [at("main.js", 3, 3, "error", "ReferenceError: undefinedThing is not defined")],
  javascript_syntax: [at("main.js", 2, 9, "error", "SyntaxError: Unexpected token ';'")],
  ruby: [at("main.rb", 3, null, "error", "undefined local variable or method `undefined_thing' for main:Object (NameError)")],
  ruby_syntax: [at("main.rb", 2, 7, "error", "syntax error, unexpected end-of-input, expecting ')'")],
  php: [at("main.php", 4, null, "error", "Uncaught Error: Call to a member function method() on null")],
  php_syntax: [at("main.php", 3, null, "error", 'syntax error, unexpected token "echo", expecting "," or ";"')],
  perl: [at("main.pl", 4, null, "error", "something broke")],
  perl_syntax: [at("main.pl", 2, null, "error", 'syntax error, near "= ;"')],
  lua: [at("main.lua", 3, null, "error", "attempt to index a nil value (local 't')")],
  lua_syntax: [at("main.lua", 2, null, "error", "<name> expected near '='")],
  bash: [at("main.sh", 2, null, "error", "not_a_command_xyz: command not found")],
  bash_syntax: [at("main.sh", 2, null, "error", "syntax error near unexpected token `then'")],
};

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`${name}: the real output becomes its diagnostics`, () => {
    assert.deepEqual(parseDiagnostics(SAMPLES[name], FILES), expected);
  });
}

test("every sample has its expectation", () => {
  assert.deepEqual(Object.keys(SAMPLES).sort(), Object.keys(EXPECTED).sort());
});

test("the platform's frames and files outside the project are no diagnostics", () => {
  // The traceback's first frame is /opt/coderunner/zygote.py (the platform's), line 165.
  assert.ok(SAMPLES.python.includes("/opt/coderunner/zygote.py"));
  assert.deepEqual(parseDiagnostics(SAMPLES.python, new Set(["other.py"])), []);
  assert.deepEqual(parseDiagnostics(SAMPLES.c, new Set(["main.py"])), []);
  assert.equal(resolvePath("/opt/coderunner/zygote.py", new Set(["zygote.py"])), null);
  assert.equal(resolvePath("/workspace/lib/util.py", FILES), "lib/util.py");
  assert.equal(resolvePath("./main.go", FILES), "main.go");
  assert.equal(resolvePath("node:internal/vm", FILES), null);
});

test("a Java frame names its file by package, or by a base name only one file has", () => {
  const trace = 'Exception in thread "main" java.lang.IllegalStateException: no\n'
    + "\tat app.util.Tool.check(Tool.java:7)\n\tat Main.main(Main.java:3)\n";
  assert.deepEqual(parseDiagnostics(trace, new Set(["Main.java", "app/util/Tool.java"])),
    [at("app/util/Tool.java", 7, null, "error", "java.lang.IllegalStateException: no")]);
});

test("a note is no marker; a GCC warning is a warning", () => {
  const notes = parseDiagnostics(SAMPLES.c, FILES).map((d) => d.severity);
  assert.deepEqual(notes, ["warning", "error"], "the note on line 5 is left out");
});

test("locations in the text for links: every frame and message in a project file", () => {
  const text = (name) => findLocations(SAMPLES[name], FILES)
    .map((l) => [SAMPLES[name].slice(l.start, l.end), l.file, l.line, l.column]);
  assert.deepEqual(text("python_module"), [
    ['File "/workspace/main.py", line 2', "main.py", 2, null],
    ['File "/workspace/lib/util.py", line 2', "lib/util.py", 2, null],
  ]);
  assert.deepEqual(text("go"), [["./main.go:6:2", "main.go", 6, 2], ["./main.go:7:14", "main.go", 7, 14]]);
  assert.deepEqual(text("javascript").slice(0, 3), [["/workspace/main.js:3", "main.js", 3, null],
    ["/workspace/main.js:3:3", "main.js", 3, 3], ["/workspace/main.js:5:1", "main.js", 5, 1]]);
  assert.deepEqual(text("typescript"), [["main.ts(3,7)", "main.ts", 3, 7]]);
  assert.deepEqual(text("ts_runtime").map((l) => l.slice(1)), [["main.ts", 3, null],
    ["main.ts", 3, 11], ["main.ts", 7, 1]]);
  assert.deepEqual(text("perl"), [["main.pl line 4", "main.pl", 4, null]]);
  assert.deepEqual(text("bash"), [["main.sh: line 2", "main.sh", 2, null]]);
  assert.deepEqual(text("php_syntax"), [["/workspace/main.php on line 3", "main.php", 3, null]]);
  assert.deepEqual(text("ruby").map((l) => l[0]), ["main.rb:3", "main.rb:5"]);
  assert.deepEqual(findLocations("at 12:30:45 see node:internal/x:1:2", FILES), []);
});

test("markers: the word at the column, or the whole line's text", () => {
  const severities = { Error: 8, Warning: 4 };
  const model = { lineStart: () => 5, lineEnd: () => 21, wordEnd: (line, column) => column + 7 };
  const diagnostics = parseDiagnostics(SAMPLES.c + SAMPLES.python, FILES);
  assert.deepEqual(toMarkers(diagnostics, severities, model), [
    { severity: 4, message: diagnostics[0].message, source: "run", startLineNumber: 4,
      startColumn: 13, endLineNumber: 4, endColumn: 20 },
    { severity: 8, message: diagnostics[1].message, source: "run", startLineNumber: 5,
      startColumn: 12, endLineNumber: 5, endColumn: 19 },
    { severity: 8, message: "ZeroDivisionError: division by zero", source: "run",
      startLineNumber: 2, startColumn: 5, endLineNumber: 2, endColumn: 21 },
  ]);
});
