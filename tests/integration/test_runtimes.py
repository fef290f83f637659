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
}
LANGUAGES = sorted(SAMPLES)
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


@pytest.mark.parametrize("language", LANGUAGES)
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
    assert listed["python"]["version"].startswith("3.11")
    assert listed["java"]["version"].startswith("17.")
    for name, runtime in listed.items():  # a version number, never a warning or "unknown"
        assert re.fullmatch(r"\d+\.\d+[\w.()-]*", runtime["version"]), (name, runtime)
    assert listed["cpp"]["aliases"] == ["c++", "g++", "cxx"] and listed["cpp"]["compiled"]
    printed = subprocess.run(
        [sys.executable, "-m", "coderunner", "runtimes", "--url", platform.url],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    header, *rows = printed.splitlines()
    assert header.split() == ["LANGUAGE", "VERSION", "FILE", "ALIASES"]
    assert {line.split()[0] for line in rows} == set(CATALOG.names())
