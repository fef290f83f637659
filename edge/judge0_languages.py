"""Judge0 CE 1.13.1's language ids (db/languages/active.rb) for the languages this platform runs.

Each id runs on one of our catalog's runtimes, under Judge0's source file name (``Main.java``,
``script.py``); its name carries the version our runners report. Plain Text (43) and the
Multi-file program (89) run on bash through a launcher script. Ids of languages we do not run
(Python 2, Pascal …) are not listed and answer 422, as an unknown id does in Judge0;
those of ``REFUSED`` say why.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.judge0 import Language, LanguageRef, ListedLanguage
from contracts.messages import SourceFile


@dataclass(frozen=True)
class Judge0Language:
    id: int
    runtime: str
    """The catalog runtime that runs it."""
    label: str
    """Judge0's name with ``{}`` where the version goes."""
    source_file: str | None
    """Where ``source_code`` is written; None: it is not used (a multi-file program)."""
    compile_cmd: str | None
    run_cmd: str | None
    compiler_options: frozenset[str] = frozenset()
    """Options ``compiler_options`` may hold (each a whole word): an allow-list, never a
    shell string. Empty: compiler options are refused for this language."""
    launcher: str | None = None
    """A bash script that is the program (``LAUNCHER``, beside the source file), for a
    language that has no runtime of its own here; its ``runtime`` is then bash."""

    def name(self, version: str | None) -> str:
        return self.label.format(version or "?")

    def ref(self, version: str | None) -> LanguageRef:
        return LanguageRef(self.id, self.name(version))

    def listed(self, version: str | None) -> ListedLanguage:
        return ListedLanguage(self.id, self.name(version), False)

    def info(self, version: str | None) -> Language:
        return Language(self.id, self.name(version), False, self.source_file, self.compile_cmd,
                        self.run_cmd)


C_OPTIONS = frozenset({
    "-O0", "-O1", "-O2", "-O3", "-Os", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic",
    "-w", "-lm", "-DONLINE_JUDGE", "-DEVAL",
})
C_STANDARDS = frozenset(f"-std={s}" for s in (
    "c89", "c99", "c11", "c17", "gnu89", "gnu99", "gnu11", "gnu17",
))
CPP_STANDARDS = frozenset(f"-std={s}" for s in (
    "c++11", "c++14", "c++17", "c++20", "gnu++11", "gnu++14", "gnu++17", "gnu++20",
))
RUST_OPTIONS = frozenset({"-O", "-g", "-Copt-level=0", "-Copt-level=1", "-Copt-level=2",
                          "-Copt-level=3"})
JAVA_OPTIONS = frozenset({"-g", "-nowarn", "-Xlint", "-Xlint:all", "-Xlint:none"})


def _c(id_: int) -> Judge0Language:
    return Judge0Language(id_, "c", "C (GCC {})", "main.c",
                          "gcc %s main.c", "./a.out", C_OPTIONS | C_STANDARDS)


def _cpp(id_: int) -> Judge0Language:
    return Judge0Language(id_, "cpp", "C++ (GCC {})", "main.cpp",
                          "g++ %s main.cpp", "./a.out", C_OPTIONS | CPP_STANDARDS)


LAUNCHER = "judge0-launcher.sh"
"""The file name of a launcher script (a zip's file of that name is skipped)."""
MULTI_FILE = 89
PLAIN_TEXT_LAUNCHER = "exec cat text.txt\n"
MULTI_FILE_LAUNCHER = """\
# Judge0's multi-file program: the zip's `compile` script, if any, then its `run` script.
if [ -f compile ]; then
  bash compile >&2 || exit
fi
exec bash run "$@"
"""
REFUSED: dict[int, str] = {
    44: "Executable: a program's files reach the sandbox as UTF-8 text, an a.out cannot",
    70: "Python 2: no longer in Debian, which every image is built on",
}
"""Judge0 ids we know and do not run, with the reason their 422 gives (docs/compat.md)."""

# 48, 49 and 50 (GCC 7.4, 8.3, 9.2 in Judge0) all run on our one GCC; so do 52, 53, 54.
LANGUAGES: tuple[Judge0Language, ...] = (
    Judge0Language(43, "bash", "Plain Text", "text.txt", None, "/bin/cat text.txt",
                   launcher=PLAIN_TEXT_LAUNCHER),
    Judge0Language(46, "bash", "Bash ({})", "script.sh", None, "bash script.sh"),
    _c(48),
    _c(49),
    _c(50),
    _cpp(52),
    _cpp(53),
    _cpp(54),
    Judge0Language(60, "go", "Go ({})", "main.go", "go build %s main.go", "./main"),
    Judge0Language(62, "java", "Java (OpenJDK {})", "Main.java", "javac %s Main.java",
                   "java Main", JAVA_OPTIONS),
    Judge0Language(63, "javascript", "JavaScript (Node.js {})", "script.js", None,
                   "node script.js"),
    Judge0Language(64, "lua", "Lua ({})", "script.lua", None, "lua script.lua"),
    Judge0Language(68, "php", "PHP ({})", "script.php", None, "php script.php"),
    Judge0Language(71, "python", "Python ({})", "script.py", None, "python3 script.py"),
    Judge0Language(72, "ruby", "Ruby ({})", "script.rb", None, "ruby script.rb"),
    Judge0Language(73, "rust", "Rust ({})", "main.rs", "rustc %s main.rs", "./main",
                   RUST_OPTIONS),
    Judge0Language(74, "typescript", "TypeScript ({})", "script.ts", "tsc %s script.ts",
                   "node script.js"),
    Judge0Language(82, "sqlite", "SQL (SQLite {})", "script.sql", None,
                   "/bin/cat script.sql | /usr/bin/sqlite3 db.sqlite"),
    Judge0Language(85, "perl", "Perl ({})", "script.pl", None, "perl script.pl"),
    Judge0Language(MULTI_FILE, "bash", "Multi-file program", None, None, None,
                   launcher=MULTI_FILE_LAUNCHER),
)
BY_ID: dict[int, Judge0Language] = {language.id: language for language in LANGUAGES}


def served(runtimes: set[str]) -> list[Judge0Language]:
    """The ids whose runtime this installation's catalog has."""
    return [language for language in LANGUAGES if language.runtime in runtimes]


def program_files(language: Judge0Language, source: str) -> list[SourceFile]:
    """A submission's own files, the main file first: its source file, or a launcher with the
    source file (if the language has one) beside it."""
    written = [SourceFile(language.source_file, source)] if language.source_file else []
    if language.launcher is None:
        return written
    return [SourceFile(LAUNCHER, language.launcher), *written]
