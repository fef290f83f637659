"""Every language of the catalog through the public socket, with real images: hello world (the
catalog's own template), stdin echo, a compile or syntax error, a multi-file program and a
non-zero exit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from contracts.runtimes import load_catalog
from contracts.settings import DEFAULT_RUNTIMES_DIR
from tests.conftest import Running
from tests.integration.wsclient import Client

CATALOG = load_catalog(DEFAULT_RUNTIMES_DIR)
COMPILED = {r.name for r in CATALOG.runtimes if r.compile}


@dataclass
class Samples:
    main: str
    echo: str
    broken: str
    exit3: str
    multi: dict[str, str] = field(default_factory=dict)
    multi_main: str = ""


SAMPLES = {
    "python": Samples(
        "main.py",
        "import sys\nprint(sys.stdin.read().upper(), end='')\n",
        "print('x'\n",
        "import sys\nsys.exit(3)\n",
        {"main.py": "from helper import greet\nprint(greet('python'))\n",
         "helper.py": "def greet(n):\n    return 'hi ' + n\n"},
    ),
    "javascript": Samples(
        "main.js",
        "let d = '';\nprocess.stdin.on('data', c => d += c);\n"
        "process.stdin.on('end', () => process.stdout.write(d.toUpperCase()));\n",
        "console.log('x'\n",
        "process.exit(3);\n",
        {"main.js": "const { greet } = require('./helper');\nconsole.log(greet('javascript'));\n",
         "helper.js": "exports.greet = n => 'hi ' + n;\n"},
    ),
    "typescript": Samples(
        "main.ts",
        "import * as fs from 'fs';\n"
        "process.stdout.write(fs.readFileSync(0, 'utf8').toUpperCase());\n",
        "const x: number = 'not a number';\n",
        "process.exit(3);\n",
        {"main.ts": "import { greet } from './helper';\nconsole.log(greet('typescript'));\n",
         "helper.ts": "export function greet(n: string): string {\n  return 'hi ' + n;\n}\n"},
    ),
    "java": Samples(
        "Main.java",
        "public class Main {\n  public static void main(String[] a) throws Exception {\n"
        "    System.out.print(new String(System.in.readAllBytes()).toUpperCase());\n  }\n}\n",
        "public class Main { public static void main(String[] a) { int x = } }\n",
        "public class Main { public static void main(String[] a) { System.exit(3); } }\n",
        {"com/acme/Main.java": "package com.acme;\nimport com.acme.util.Helper;\n"
         "public class Main {\n  public static void main(String[] a) {\n"
         "    System.out.println(Helper.greet(\"java\"));\n  }\n}\n",
         "com/acme/util/Helper.java": "package com.acme.util;\npublic class Helper {\n"
         "  public static String greet(String n) { return \"hi \" + n; }\n}\n"},
        "com/acme/Main.java",
    ),
    "c": Samples(
        "main.c",
        "#include <ctype.h>\n#include <stdio.h>\n"
        "int main(void) { int c; while ((c = getchar()) != EOF) putchar(toupper(c)); return 0; }\n",
        "int main(void) { return }\n",
        "int main(void) { return 3; }\n",
        {"main.c": "#include <stdio.h>\n#include \"helper.h\"\n"
         "int main(void) { printf(\"%s\\n\", greet()); return 0; }\n",
         "helper.h": "const char *greet(void);\n",
         "helper.c": "#include \"helper.h\"\nconst char *greet(void) { return \"hi c\"; }\n"},
    ),
    "cpp": Samples(
        "main.cpp",
        "#include <bits/stdc++.h>\nint main() {\n"
        "  std::string s((std::istreambuf_iterator<char>(std::cin)), {});\n"
        "  for (auto &c : s) c = toupper(c);\n  std::cout << s;\n}\n",
        "int main() { return }\n",
        "int main() { return 3; }\n",
        {"main.cpp": "#include <iostream>\n#include \"helper.hpp\"\n"
         "int main() { std::cout << greet() << std::endl; }\n",
         "helper.hpp": "#include <string>\nstd::string greet();\n",
         "helper.cpp": "#include \"helper.hpp\"\nstd::string greet() { return \"hi cpp\"; }\n"},
    ),
    "go": Samples(
        "main.go",
        "package main\nimport (\n\t\"io\"\n\t\"os\"\n\t\"strings\"\n)\n"
        "func main() {\n\tb, _ := io.ReadAll(os.Stdin)\n"
        "\tos.Stdout.WriteString(strings.ToUpper(string(b)))\n}\n",
        "package main\nfunc main() { x := }\n",
        "package main\nimport \"os\"\nfunc main() { os.Exit(3) }\n",
        {"main.go": "package main\nimport \"fmt\"\nfunc main() { fmt.Println(greet(\"go\")) }\n",
         "helper.go": "package main\nfunc greet(n string) string { return \"hi \" + n }\n"},
    ),
    "rust": Samples(
        "main.rs",
        "use std::io::Read;\nfn main() {\n  let mut s = String::new();\n"
        "  std::io::stdin().read_to_string(&mut s).unwrap();\n"
        "  print!(\"{}\", s.to_uppercase());\n}\n",
        "fn main() { let x: i32 = \"s\"; }\n",
        "fn main() { std::process::exit(3); }\n",
        {"main.rs": "mod helper;\nfn main() { println!(\"{}\", helper::greet(\"rust\")); }\n",
         "helper.rs": "pub fn greet(n: &str) -> String { format!(\"hi {}\", n) }\n"},
    ),
    "ruby": Samples(
        "main.rb", "print STDIN.read.upcase\n", "puts('x'\n", "exit 3\n",
        {"main.rb": "require_relative 'helper'\nputs greet('ruby')\n",
         "helper.rb": "def greet(n)\n  \"hi #{n}\"\nend\n"},
    ),
    "php": Samples(
        "main.php", "<?php echo strtoupper(stream_get_contents(STDIN));\n", "<?php echo 'x'\n",
        "<?php exit(3);\n",
        {"main.php": "<?php require __DIR__ . '/helper.php';\necho greet('php'), \"\\n\";\n",
         "helper.php": "<?php function greet($n) { return \"hi $n\"; }\n"},
    ),
    "lua": Samples(
        "main.lua", "io.write(string.upper(io.read('a')))\n", "print('x'\n", "os.exit(3)\n",
        {"main.lua": "local helper = require('helper')\nprint(helper.greet('lua'))\n",
         "helper.lua": "local M = {}\nfunction M.greet(n) return 'hi ' .. n end\nreturn M\n"},
    ),
    "perl": Samples(
        "main.pl", "local $/;\nmy $s = <STDIN>;\nprint uc $s;\n", "print ('x';\n", "exit 3;\n",
        {"main.pl": "use lib '.';\nuse Helper;\nprint Helper::greet('perl'), \"\\n\";\n",
         "Helper.pm": "package Helper;\nsub greet { return 'hi ' . shift; }\n1;\n"},
    ),
    "bash": Samples(
        "main.sh", "tr '[:lower:]' '[:upper:]'\n", "if then fi\n", "exit 3\n",
        {"main.sh": "source ./helper.sh\ngreet bash\n",
         "helper.sh": "greet() { echo \"hi $1\"; }\n"},
    ),
    "fortran": Samples(
        "main.f90",
        "program echo\n  character(len=200) :: line\n  integer :: ios, i, c\n"
        "  do\n    read(*, '(a)', iostat=ios) line\n    if (ios /= 0) exit\n"
        "    do i = 1, len_trim(line)\n      c = iachar(line(i:i))\n"
        "      if (c >= 97 .and. c <= 122) line(i:i) = achar(c - 32)\n    end do\n"
        "    print '(a)', trim(line)\n  end do\nend program echo\n",
        "program broken\n  integer :: x\n  x = \nend program broken\n",
        "program three\n  stop 3\nend program three\n",
        {"helper.f90": "module helper\ncontains\n  function greet(n) result(s)\n"
         "    character(len=*), intent(in) :: n\n    character(len=:), allocatable :: s\n"
         "    s = 'hi ' // n\n  end function greet\nend module helper\n",
         "main.f90": "program main\n  use helper\n  print '(a)', greet('fortran')\n"
         "end program main\n"},
    ),
    "d": Samples(
        "main.d",
        "import std.stdio, std.uni;\nvoid main() {\n"
        "    foreach (line; stdin.byLine(KeepTerminator.yes)) write(toUpper(line));\n}\n",
        "void main() { int x = }\n",
        "int main() { return 3; }\n",
        {"main.d": "import std.stdio;\nimport helper;\nvoid main() { writeln(greet(\"d\")); }\n",
         "helper.d": "module helper;\nstring greet(string n) { return \"hi \" ~ n; }\n"},
    ),
    "ada": Samples(
        "main.adb",
        "with Ada.Text_IO; use Ada.Text_IO;\nwith Ada.Characters.Handling;\n"
        "procedure Main is\nbegin\n   while not End_Of_File loop\n"
        "      Put_Line (Ada.Characters.Handling.To_Upper (Get_Line));\n   end loop;\nend Main;\n",
        "procedure Main is\nbegin\n   X := ;\nend Main;\n",
        "with Ada.Command_Line;\nprocedure Main is\nbegin\n"
        "   Ada.Command_Line.Set_Exit_Status (3);\nend Main;\n",
        {"main.adb": "with Ada.Text_IO;\nwith Helper;\nprocedure Main is\nbegin\n"
         "   Ada.Text_IO.Put_Line (Helper.Greet (\"ada\"));\nend Main;\n",
         "helper.ads": "package Helper is\n   function Greet (N : String) return String;\n"
         "end Helper;\n",
         "helper.adb": "package body Helper is\n   function Greet (N : String) return String is\n"
         "   begin\n      return \"hi \" & N;\n   end Greet;\nend Helper;\n"},
    ),
    "pascal": Samples(
        "main.pas",
        "program Echo;\nuses SysUtils;\nvar line: string;\nbegin\n"
        "  while not Eof(Input) do\n  begin\n    ReadLn(line);\n    WriteLn(UpperCase(line));\n"
        "  end;\nend.\n",
        "program Broken;\nbegin\n  x := ;\nend.\n",
        "program Three;\nbegin\n  Halt(3);\nend.\n",
        {"main.pas": "program Main;\nuses Helper;\nbegin\n  WriteLn(Greet('pascal'));\nend.\n",
         "helper.pas": "unit Helper;\ninterface\nfunction Greet(n: string): string;\n"
         "implementation\nfunction Greet(n: string): string;\nbegin\n  Greet := 'hi ' + n;\n"
         "end;\nend.\n"},
    ),
    "assembly": Samples(
        "main.asm",
        "section .bss\n    buf resb 4096\nsection .text\n    global _start\n_start:\n"
        ".read:\n    xor eax, eax\n    xor edi, edi\n    mov rsi, buf\n    mov edx, 4096\n"
        "    syscall\n    test rax, rax\n    jle .done\n    mov rdx, rax\n    xor rcx, rcx\n"
        ".up:\n    mov al, [buf + rcx]\n    cmp al, 'a'\n    jb .next\n    cmp al, 'z'\n"
        "    ja .next\n    sub al, 32\n    mov [buf + rcx], al\n.next:\n    inc rcx\n"
        "    cmp rcx, rdx\n    jb .up\n    mov eax, 1\n    mov edi, 1\n    mov rsi, buf\n"
        "    syscall\n    jmp .read\n.done:\n    mov eax, 60\n    xor edi, edi\n    syscall\n",
        "section .text\n    global _start\n_start:\n    mov rax,\n",
        "section .text\n    global _start\n_start:\n    mov eax, 60\n    mov edi, 3\n    syscall\n",
        {"main.asm": "section .text\n    global _start\n    extern greet\n_start:\n    call greet\n"
         "    mov eax, 60\n    xor edi, edi\n    syscall\n",
         "greet.asm": "section .data\n    msg db \"hi assembly\", 10\nsection .text\n"
         "    global greet\ngreet:\n    mov eax, 1\n    mov edi, 1\n    mov rsi, msg\n"
         "    mov edx, 12\n    syscall\n    ret\n"},
    ),
    "awk": Samples(
        "main.awk", "{ print toupper($0) }\n", "BEGIN { print \"x\" \n", "BEGIN { exit 3 }\n",
    ),
    "sqlite": Samples(  # stdin read as a one-column table; `.exit N` ends with code N
        "main.sqlite",
        "CREATE TABLE input (line TEXT);\n.import '|cat -' input\n"
        "SELECT upper(line) FROM input;\n",
        "SELEC 1;\n", ".exit 3\n",
    ),
    "tcl": Samples(
        "main.tcl", "puts -nonewline [string toupper [read stdin]]\n", "puts \"x\n",
        "exit 3\n",
        {"main.tcl": "source [file join [file dirname [info script]] helper.tcl]\n"
         "puts [greet tcl]\n",
         "helper.tcl": "proc greet {n} { return \"hi $n\" }\n"},
    ),
    "raku": Samples(
        "main.raku", "print $*IN.slurp.uc;\n", "say('x';\n", "exit 3;\n",
        {"main.raku": "use lib '.';\nuse Helper;\nsay greet('raku');\n",
         "Helper.rakumod": "unit module Helper;\nsub greet($n) is export { \"hi $n\" }\n"},
    ),
    "scheme": Samples(
        "main.scm",
        "(use-modules (ice-9 textual-ports))\n"
        "(display (string-upcase (get-string-all (current-input-port))))\n",
        "(display \"x\"\n", "(exit 3)\n",
        {"main.scm": "(load \"helper.scm\")\n(display (greet \"scheme\"))\n(newline)\n",
         "helper.scm": "(define (greet n) (string-append \"hi \" n))\n"},
    ),
    "prolog": Samples(
        "main.pro",
        ":- initialization(main, main).\n\nmain :-\n    read_string(user_input, _, S),\n"
        "    string_upper(S, U),\n    write(U).\n",
        ":- initialization(main, main).\n\nmain :- write('x'.\n",
        ":- initialization(main, main).\n\nmain :- halt(3).\n",
        {"main.pro": ":- initialization(main, main).\n:- consult(helper).\n\n"
         "main :-\n    greet(prolog, S),\n    format(\"~w~n\", [S]).\n",
         "helper.pl": "greet(N, S) :- format(string(S), \"hi ~w\", [N]).\n"},
    ),
    "commonlisp": Samples(
        "main.lisp",
        "(loop for line = (read-line *standard-input* nil) while line\n"
        "      do (write-line (string-upcase line)))\n",
        "(format t \"x\"\n", "(sb-ext:exit :code 3)\n",
        {"main.lisp": "(load \"helper.lisp\")\n(format t \"~a~%\" (greet \"commonlisp\"))\n",
         "helper.lisp": "(defun greet (n) (concatenate 'string \"hi \" n))\n"},
    ),
    "erlang": Samples(
        "main.erl",
        "-module(main).\n-export([main/1]).\n\nmain(_) ->\n    loop().\n\nloop() ->\n"
        "    case io:get_line(\"\") of\n        eof -> ok;\n"
        "        Line -> io:put_chars(string:uppercase(Line)), loop()\n    end.\n",
        "-module(main).\n-export([main/1]).\n\nmain(_) ->\n    io:format(\"x\"\n",
        "-module(main).\n-export([main/1]).\n\nmain(_) ->\n    halt(3).\n",
        {"main.erl": "-module(main).\n-export([main/1]).\n\n"
         "main(_) ->\n    io:format(\"~s~n\", [helper:greet(\"erlang\")]).\n",
         "helper.erl": "-module(helper).\n-export([greet/1]).\n\ngreet(N) -> \"hi \" ++ N.\n"},
    ),
    "elixir": Samples(
        "main.exs", "IO.read(:stdio, :eof) |> String.upcase() |> IO.write()\n",
        "IO.puts(\"x\"\n", "System.halt(3)\n",
        {"main.exs": "Code.require_file(\"helper.exs\", __DIR__)\n"
         "IO.puts(Helper.greet(\"elixir\"))\n",
         "helper.exs": "defmodule Helper do\n  def greet(n), do: \"hi \" <> n\nend\n"},
    ),
    "ocaml": Samples(
        "main.ml",
        "let () =\n  try\n    while true do\n"
        "      print_endline (String.uppercase_ascii (input_line stdin))\n    done\n"
        "  with End_of_file -> ()\n",
        "let () = print_endline (1 + \"x\")\n",
        "let () = exit 3\n",
        {"main.ml": "let () = print_endline (Helper.greet \"ocaml\")\n",
         "helper.ml": "let greet n = \"hi \" ^ n\n"},
    ),
    "r": Samples(
        "main.R", "cat(toupper(readLines(file(\"stdin\"))), sep = \"\\n\")\n", "cat(\"x\"\n",
        "quit(status = 3)\n",
        {"main.R": "source(\"helper.R\")\ncat(greet(\"r\"), \"\\n\", sep = \"\")\n",
         "helper.R": "greet <- function(n) paste(\"hi\", n)\n"},
    ),
    "csharp": Samples(
        "main.cs",
        "using System;\nclass Program {\n    static void Main() {\n"
        "        Console.Write(Console.In.ReadToEnd().ToUpper());\n    }\n}\n",
        "class Program { static void Main() { int x = } }\n",
        "class Program { static int Main() { return 3; } }\n",
        {"main.cs": "using System;\nclass Program {\n    static void Main() {\n"
         "        Console.WriteLine(Helper.Greet(\"csharp\"));\n    }\n}\n",
         "helper.cs": "static class Helper {\n"
         "    public static string Greet(string n) { return \"hi \" + n; }\n}\n"},
    ),
}
LANGUAGES = sorted(SAMPLES)
MULTI_FILE = sorted(name for name, samples in SAMPLES.items() if samples.multi)
NO_STDIN = {"sql"}  # an SQL script has no standard input; its tests are below


def test_every_catalog_language_has_samples_here() -> None:
    assert set(CATALOG.names()) - NO_STDIN == set(SAMPLES)


@pytest.fixture
async def client(platform: Running) -> AsyncIterator[Client]:
    c = await Client.connect(platform.ws_url)
    yield c
    await c.close()


@pytest.mark.parametrize("language", LANGUAGES)
async def test_hello_world_from_the_template(client: Client, language: str) -> None:
    runtime = CATALOG.get(language)
    assert runtime is not None
    result = await client.run({SAMPLES[language].main: runtime.template}, language=language)
    assert (result.verdict, result.stdout) == ("ok", "Hello, world!\n"), result.events


@pytest.mark.parametrize("language", LANGUAGES)
async def test_stdin_is_echoed(client: Client, language: str) -> None:
    samples = SAMPLES[language]
    result = await client.run({samples.main: samples.echo}, language=language,
                              stdin="abc\nxyz\n")
    assert (result.verdict, result.stdout) == ("ok", "ABC\nXYZ\n"), result.events


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_broken_program_gets_the_right_verdict(client: Client, language: str) -> None:
    samples = SAMPLES[language]
    result = await client.run({samples.main: samples.broken}, language=language)
    expected = "compile_error" if language in COMPILED else "runtime_error"
    assert result.verdict == expected, result.events
    assert result.stderr.strip(), "the compiler's or interpreter's message is on stderr"
    if expected == "compile_error":
        assert "exitCode" in result.completion
        assert result.stdout == ""


@pytest.mark.parametrize("language", MULTI_FILE)
async def test_a_multi_file_program_runs(client: Client, language: str) -> None:
    samples = SAMPLES[language]
    main = samples.multi_main or samples.main
    result = await client.run(samples.multi, main, language=language)
    assert (result.verdict, result.stdout) == ("ok", f"hi {language}\n"), result.events


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_non_zero_exit_is_a_runtime_error(client: Client, language: str) -> None:
    samples = SAMPLES[language]
    result = await client.run({samples.main: samples.exit3}, language=language)
    assert (result.verdict, result.completion.get("exitCode")) == ("runtime_error", 3)


@pytest.mark.parametrize("language", ["python", "c"])
async def test_arguments_reach_the_program(client: Client, language: str) -> None:
    program = {
        "python": ("main.py", "import sys\nprint(sys.argv[1:])\n"),
        "c": ("main.c", "#include <stdio.h>\nint main(int n, char **v) {\n"
                        "  printf(\"[\");\n  for (int i = 1; i < n; i++)\n"
                        "    printf(\"%s'%s'\", i > 1 ? \", \" : \"\", v[i]);\n"
                        "  printf(\"]\\n\");\n}\n"),
    }[language]
    result = await client.run({program[0]: program[1]}, language=language,
                              args=["one", "two words"])
    assert result.stdout == "['one', 'two words']\n"


async def test_javascript_es_modules_import_each_other(client: Client) -> None:
    files = {"main.mjs": "import { greet } from './helper.mjs';\nconsole.log(greet('esm'));\n",
             "helper.mjs": "export const greet = n => 'hi ' + n;\n"}
    result = await client.run(files, "main.mjs", language="javascript")
    assert (result.verdict, result.stdout) == ("ok", "hi esm\n")


TYPE_ERROR = "const x: number = 'not a number';\nconsole.log(x);\n"


async def test_a_typescript_type_error_is_a_compile_error_with_the_checkers_message(
    client: Client,
) -> None:
    result = await client.run({"main.ts": TYPE_ERROR}, language="typescript")
    assert (result.verdict, result.stdout) == ("compile_error", ""), result.events
    assert ("main.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'."
            in result.stderr), result.stderr


async def test_ts_nocheck_skips_the_type_check_and_node_runs_the_program(client: Client) -> None:
    result = await client.run({"main.ts": f"// @ts-nocheck\n{TYPE_ERROR}"}, language="typescript")
    assert (result.verdict, result.stdout) == ("ok", "not a number\n"), result.events


async def test_a_typescript_runtime_error_names_the_source_line(client: Client) -> None:
    program = ("interface Shape {\n  sides: number;\n  name?: string;\n}\n"
               "type Check = (shape: Shape) => never;\n"
               "const fail: Check = (shape: Shape): never => {\n"
               "  throw new Error(`bad shape ${shape.sides}`);\n};\n"
               "fail({ sides: 3 } as Shape);\n")
    result = await client.run({"main.ts": program}, language="typescript")
    assert result.verdict == "runtime_error", result.events
    assert "main.ts:7:9)" in result.stderr and "Error: bad shape 3" in result.stderr, result.stderr


async def test_typescript_that_type_stripping_cannot_run_is_a_compile_error(
    client: Client,
) -> None:
    result = await client.run({"main.ts": "enum Color { Red }\nconsole.log(Color.Red);\n"},
                              language="typescript")
    assert result.verdict == "compile_error", result.events
    assert "main.ts(1,6): error TS1294:" in result.stderr, result.stderr


async def test_a_data_file_is_read_by_the_program(client: Client) -> None:
    files = {"main.py": "print(open('data/values.txt').read().split())\n",
             "data/values.txt": "3 1 2\n"}
    result = await client.run(files, "main.py")
    assert result.stdout == "['3', '1', '2']\n"


async def test_numpy_and_pandas_are_there(client: Client) -> None:
    program = "import numpy as np, pandas as pd\nprint(pd.Series(np.arange(4)).sum())\n"
    result = await client.run({"main.py": program})
    assert (result.verdict, result.stdout) == ("ok", "6\n"), result.events


async def test_sql_result_sets_come_back_as_tables(client: Client) -> None:
    script = (
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(5,2));\n"
        "INSERT INTO t VALUES (1, 'tea', 2.50), (2, 'cake', NULL);\n"
        "SELECT id, name FROM t ORDER BY id;\n"
        "SELECT COUNT(*) AS n, SUM(price) AS total FROM t;\n"
    )
    result = await client.run({"main.sql": script}, language="sql")
    tables = [e for e in result.events if e["type"] == "table"]
    assert result.verdict == "ok", result.events
    assert [t["columns"] for t in tables] == [["id", "name"], ["n", "total"]]
    assert tables[0]["rows"] == [[1, "tea"], [2, "cake"]]
    assert tables[1]["rows"] == [[2, "2.50"]]


async def test_sql_errors_are_runtime_errors_with_mariadbs_message(client: Client) -> None:
    result = await client.run({"main.sql": "SELECT 1;\nSELEC oops;\n"}, language="sql")
    assert result.verdict == "runtime_error"
    assert "1064" in result.stderr and "SQL syntax" in result.stderr
    assert [e["rows"] for e in result.events if e["type"] == "table"] == [[[1]]]


async def test_each_sql_script_starts_from_an_empty_database(platform: Running) -> None:
    first, second = await Client.connect(platform.ws_url), await Client.connect(platform.ws_url)
    try:
        made = await first.run({"main.sql": "CREATE TABLE kept (x INT);\nSHOW TABLES;\n"},
                               language="sql")
        fresh = await second.run({"main.sql": "SHOW TABLES;\n"}, language="sql")
    finally:
        await first.close()
        await second.close()
    assert [e["rows"] for e in made.events if e["type"] == "table"] == [[["kept"]]]
    assert [e["rows"] for e in fresh.events if e["type"] == "table"] == [[]]


def test_the_runtimes_api_and_cli_list_every_language_with_its_version(
    platform: Running,
) -> None:
    with urllib.request.urlopen(f"{platform.url}/api/v1/runtimes", timeout=10) as response:
        listed = {r["name"]: r for r in json.load(response)}
    assert set(listed) == set(CATALOG.names())
    assert listed["python"]["version"].startswith("3.13")
    assert listed["java"]["version"].startswith("21.")
    assert listed["javascript"]["version"].startswith("24.")
    assert listed["typescript"]["version"].startswith("7.")
    for name, runtime in listed.items():  # a version number, never a warning or "unknown"
        assert re.fullmatch(r"\d+\.\d+[\w.()-]*", runtime["version"]), (name, runtime)
        assert runtime["built"], name
    assert listed["cpp"]["aliases"] == ["c++", "g++", "cxx"] and listed["cpp"]["compiled"]
    printed = subprocess.run(
        [sys.executable, "-m", "coderunner", "runtimes", "--url", platform.url],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    header, *rows = printed.splitlines()
    assert header.split() == ["LANGUAGE", "VERSION", "FILE", "ALIASES"]
    assert {line.split()[0] for line in rows} == set(CATALOG.names())
