"""The attacks of ``test_attacks.py``, written in every language each applies to.

Each hostile program runs beside an innocent Python job in another session, started once the
attack is under way (the hostile program's first output; for a compile-time attack, the moment
its job starts running). Every case asserts the hostile verdict, that the host is untouched (the
platform's own processes all still run, the host's canary never reaches the sandbox; for egress,
a listener of ours on every host address is never reached) and that the innocent job still
prints the right answer.

The wall limit applies to each step, the compile step included: compiled languages get room
for their compiler (``COMPILE_ROOM_MS``), and run-time attacks print ``STARTED`` first so that a
limit reached while compiling (or starting up, on a loaded machine) never passes for one reached
by the attack; such an attempt is run again with more room (``attack_started``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from textwrap import dedent

import pytest

from tests.conftest import CANARY, Running
from tests.integration.wsclient import Client, Event, Result
from tests.security.test_attacks import GVISOR_PYTHON_BOMB_LIMITS, INNOCENT, bridge_gateway

pytestmark = pytest.mark.timeout(900)  # other engineers' runs share two cores

STARTED = "attack-started"
MAIN = {
    "bash": "main.sh", "c": "main.c", "cpp": "main.cpp", "go": "main.go", "java": "Main.java",
    "javascript": "main.js", "lua": "main.lua", "perl": "main.pl", "php": "main.php",
    "python": "main.py", "ruby": "main.rb", "rust": "main.rs", "typescript": "main.ts",
    "ada": "main.adb", "assembly": "main.asm", "awk": "main.awk", "raku": "main.raku",
    "commonlisp": "main.lisp", "csharp": "main.cs", "d": "main.d", "elixir": "main.exs",
    "erlang": "main.erl", "fortran": "main.f90", "ocaml": "main.ml", "pascal": "main.pas",
    "prolog": "main.pro", "r": "main.R", "scheme": "main.scm", "tcl": "main.tcl",
}
COMPILE_ROOM_MS = {"c": 5000, "cpp": 5000, "go": 8000, "rust": 8000, "java": 8000,
                   "typescript": 15000, "ada": 8000, "assembly": 5000,
                   "csharp": 8000, "d": 8000, "erlang": 8000, "fortran": 5000, "ocaml": 8000,
                   "pascal": 5000, "elixir": 8000, "commonlisp": 5000, "prolog": 5000,
                   "r": 5000}
"""Wall limits that leave a compile step room to finish (the limit applies to each step)."""
RUN_WALL_MS = 2000
CPU_ROOM_MS = 300_000
"""The CPU limit of the CPU spins: the most a run may have, so that the wall limit is what ends
them. A runtime whose threads keep busy uses CPU faster than the wall: Erlang's schedulers under
gVisor used 9.5 s of CPU in 8 s of wall, and reached its default CPU limit (10 s) at 7.8 s of
its 8 s wall limit in one CI run (ci21)."""
LIMIT_VERDICTS = {"time_limit", "memory_limit", "output_limit"}


def wall_ms(language: str) -> int:
    return COMPILE_ROOM_MS.get(language, RUN_WALL_MS)


def cases(programs: dict[str, str]) -> list[object]:
    return [pytest.param(language, program, id=language) for language, program in programs.items()]


def under_way(event: Event, compile_time: bool) -> bool:
    if event["type"] == "completion":
        return True
    if compile_time:
        return event["type"] == "status" and event.get("status") == "running"
    return event["type"] == "output"


async def attack_in(platform: Running, language: str, program: str, *,
                    compile_time: bool = False, **extra: object) -> Result:
    """Run ``program`` in ``language`` beside an innocent job; returns the hostile result."""
    hostile, innocent = await Client.connect(platform.ws_url), await Client.connect(platform.ws_url)
    good: asyncio.Task[Result] | None = None
    try:
        queued = await hostile.submit({MAIN[language]: program}, language=language, **extra)
        assert queued["type"] == "status", queued
        bad = Result(queued["executionId"], [queued])
        while bad.events[-1]["type"] != "completion":
            event = await hostile.receive()
            if event.get("executionId") != bad.execution_id:
                continue
            bad.events.append(event)
            if good is None and under_way(event, compile_time):
                good = asyncio.create_task(innocent.run({"main.py": INNOCENT}))
        assert good is not None
        done = await good
    finally:
        if good is not None and not good.done():
            good.cancel()
        await hostile.close()
        await innocent.close()
    assert (done.verdict, done.stdout) == ("ok", "5050\n"), f"innocent job disturbed: {done.events}"
    assert_host_untouched(platform, bad)
    return bad


def assert_host_untouched(platform: Running, result: Result) -> None:
    """Every process of the platform still runs, the sandbox's agent answered to the end (no
    ``internal_error``), and nothing of the host leaked in."""
    assert platform.up is not None
    platform.up.check_children()
    assert CANARY not in result.stdout + result.stderr
    assert result.verdict != "internal_error", result.completion


async def attack_started(platform: Running, language: str, program: str,
                         verdicts: set[str], limits: dict[str, int]) -> tuple[Result, int]:
    """Run a run-time attack until it gets to start (prints ``STARTED``); returns its result
    and the wall limit it ran with. On a loaded machine the compile step or the runtime's
    start-up can use the whole wall limit (it applies to each step): the attack is then tried
    again with three times the room, twice at most. Every attempt must end with ``verdicts``."""
    wall = limits["wallMs"]
    for _ in range(3):
        result = await attack_in(platform, language, program, limits={**limits, "wallMs": wall})
        assert result.verdict in verdicts, result.completion
        if STARTED in result.stdout:
            return result, wall
        wall *= 3
    pytest.fail(f"the attack never started, even with a wall limit of {wall // 3} ms")


# --- fork bombs -------------------------------------------------------------------------------


def fork_bomb_verdict(platform: Running, language: str) -> str:
    """Under gVisor a Python bomb's memory runs out (``fork_bomb_limits``); elsewhere the pids
    limit holds the bomb and its wall limit ends it."""
    return "memory_limit" if (platform.isolation, language) == ("gvisor", "python") else \
        "time_limit"


def fork_bomb_limits(platform: Running, language: str) -> dict[str, int]:
    """A Python bomb under gVisor runs with ``GVISOR_PYTHON_BOMB_LIMITS`` (with the default
    256 MB and a 2 s wall, which runs out first was a race: ``time_limit`` in ci36)."""
    if (platform.isolation, language) == ("gvisor", "python"):
        return GVISOR_PYTHON_BOMB_LIMITS
    return {"wallMs": wall_ms(language)}


GO_MAKE_THREADS = """
// Go's runtime ends the program (exit 2) when it needs another OS thread and the process limit
// is full: a Go bomb makes its threads while there is room (each goroutine locked to a thread of
// its own), and the runtime reuses them. Appended to a program that imports runtime, sync, time.
func makeThreads(n int) {
    var wg sync.WaitGroup
    for i := 0; i < n; i++ {
        wg.Add(1)
        go func() {
            defer wg.Done()
            runtime.LockOSThread()
            time.Sleep(50 * time.Millisecond)
            runtime.UnlockOSThread()
        }()
    }
    wg.Wait()
}
"""

FORK_BOMBS = {
    "c": dedent("""
        #include <stdio.h>
        #include <unistd.h>

        int main(void) {
            puts("attack-started");
            fflush(stdout);
            for (;;)
                fork();
        }
    """),
    "bash": dedent("""
        echo attack-started
        bomb() { bomb | bomb & }
        while true; do bomb; done
    """),
    "python": dedent("""
        import os
        print('attack-started', flush=True)
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """),
    "perl": '$| = 1;\nprint "attack-started\\n";\nfork while 1;\n',
    "ruby": "$stdout.sync = true\nputs 'attack-started'\nloop { fork rescue nil }\n",
    "javascript": dedent("""
        const { spawn } = require('child_process');
        console.log('attack-started');
        function bomb() {
            try {
                spawn(process.execPath, [__filename], { stdio: 'ignore' }).on('error', () => {});
            } catch (e) {}
            setImmediate(bomb);
        }
        bomb();
    """),
    "go": dedent("""
        package main

        import (
            "fmt"
            "os"
            "os/exec"
            "runtime"
            "sync"
            "time"
        )

        func main() {
            if len(os.Args) == 1 {
                makeThreads(24)
                fmt.Println("attack-started")
            }
            for {
                _ = exec.Command(os.Args[0], "child").Start()
            }
        }
    """) + GO_MAKE_THREADS,  # its threads first: CI saw runtime_error without
    "rust": dedent("""
        use std::process::{Command, Stdio};

        fn main() {
            if std::env::args().count() == 1 {
                println!("attack-started");
            }
            let me = std::env::current_exe().unwrap();
            loop {
                let _ = Command::new(&me).arg("child").stdin(Stdio::null())
                    .stdout(Stdio::null()).stderr(Stdio::null()).spawn();
            }
        }
    """),
}


@pytest.mark.parametrize(("language", "program"), cases(FORK_BOMBS))
async def test_fork_bomb_is_contained(platform: Running, language: str, program: str) -> None:
    """The pids limit holds the bomb; the wall limit ends it (docs/reliability.md). Under
    gVisor each Python process costs the sandbox's memory several MB (gVisor copies a forked
    process's pages in large units): the bomb ends ``memory_limit`` there."""
    verdict = fork_bomb_verdict(platform, language)
    await attack_started(platform, language, program, {verdict},
                         fork_bomb_limits(platform, language))


# --- memory bombs -----------------------------------------------------------------------------

MEMORY_BOMBS = {
    "c": dedent("""
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        int main(void) {
            puts("attack-started");
            fflush(stdout);
            for (;;) {
                char *chunk = malloc(16 << 20);
                if (chunk == NULL)
                    return 1;
                memset(chunk, 1, 16 << 20);
            }
        }
    """),
    "cpp": dedent("""
        #include <iostream>
        #include <vector>

        int main() {
            std::cout << "attack-started" << std::endl;
            std::vector<std::vector<char>> keep;
            for (;;)
                keep.emplace_back(16 << 20, 1);
        }
    """),
    "go": dedent("""
        package main

        import "fmt"

        func main() {
            fmt.Println("attack-started")
            var keep [][]byte
            for {
                chunk := make([]byte, 16<<20)
                for i := range chunk {
                    chunk[i] = 1
                }
                keep = append(keep, chunk)
            }
        }
    """),
    "rust": dedent("""
        fn main() {
            println!("attack-started");
            let mut keep = Vec::new();
            loop {
                keep.push(vec![1u8; 16 << 20]);
            }
        }
    """),
    "java": dedent("""
        import java.util.ArrayList;
        import java.util.Arrays;
        import java.util.List;

        public class Main {
            public static void main(String[] args) {
                System.out.println("attack-started");
                List<byte[]> keep = new ArrayList<>();
                while (true) {
                    byte[] chunk = new byte[16 << 20];
                    Arrays.fill(chunk, (byte) 1);
                    keep.add(chunk);
                }
            }
        }
    """),
    "javascript": dedent("""
        console.log('attack-started');
        const keep = [];
        for (;;) keep.push(Buffer.alloc(16 << 20, 1));
    """),
    "python": dedent("""
        print('attack-started', flush=True)
        keep = []
        while True:
            keep.append(bytearray(b'x' * (16 << 20)))
    """),
    "ruby": "$stdout.sync = true\nputs 'attack-started'\nkeep = []\n"
            "loop { keep << ('x' * (16 << 20)) }\n",
    "php": dedent("""
        <?php
        echo "attack-started\\n";
        $keep = [];
        while (true) {
            $keep[] = str_repeat('x', 16 << 20);
        }
    """).lstrip(),
    "lua": dedent("""
        print('attack-started')
        io.stdout:flush()
        local keep, i = {}, 0
        while true do
            i = i + 1
            keep[i] = string.rep('x', 16 * 1024 * 1024 + i)
        end
    """),
}


@pytest.mark.parametrize(("language", "program"), cases(MEMORY_BOMBS))
async def test_memory_bomb_is_contained(platform: Running, language: str, program: str) -> None:
    """The cgroup's OOM killer ends it (``memory_limit``), under runc and gVisor alike, but for
    Java, whose own heap limit (a quarter of the container's memory) ends it first with an
    OutOfMemoryError (``runtime_error``)."""
    memory = 256 if language in COMPILE_ROOM_MS else 128  # a compiler needs more than the bomb
    verdict = "runtime_error" if language == "java" else "memory_limit"
    await attack_started(platform, language, program, {verdict},
                         {"memoryMb": memory, "wallMs": max(wall_ms(language), 10_000)})


# --- infinite output --------------------------------------------------------------------------

LINE = "x" * 100
INFINITE_OUTPUT = {
    "bash": f"while true; do echo {LINE}; done\n",
    "c": f'#include <stdio.h>\n\nint main(void) {{\n    for (;;)\n        puts("{LINE}");\n}}\n',
    "cpp": f'#include <iostream>\n\nint main() {{\n    for (;;)\n'
           f'        std::cout << "{LINE}\\n";\n}}\n',
    "go": dedent(f"""
        package main

        import "fmt"

        func main() {{
            for {{
                fmt.Println("{LINE}")
            }}
        }}
    """),
    "java": dedent(f"""
        public class Main {{
            public static void main(String[] args) {{
                while (true) {{
                    System.out.println("{LINE}");
                }}
            }}
        }}
    """),
    "javascript": f"for (;;) console.log('{LINE}');\n",
    "lua": f"while true do print('{LINE}') end\n",
    "perl": f'print "{LINE}\\n" while 1;\n',
    "php": f'<?php\nwhile (true) {{\n    echo "{LINE}\\n";\n}}\n',
    "python": f"while True:\n    print('{LINE}')\n",
    "ruby": f"loop {{ puts '{LINE}' }}\n",
    "rust": f'fn main() {{\n    loop {{\n        println!("{LINE}");\n    }}\n}}\n',
    "typescript": f"const line: string = '{LINE}';\nfor (;;) console.log(line);\n",
}


@pytest.mark.parametrize(("language", "program"), cases(INFINITE_OUTPUT))
async def test_infinite_output_is_cut_at_the_cap(
    platform: Running, language: str, program: str,
) -> None:
    result = await attack_in(platform, language, program, limits={"outputKb": 64})
    node_ran_out = result.verdict == "memory_limit" or (
        result.verdict, result.completion.get("signal")) == ("runtime_error", "SIGABRT")
    if language in ("javascript", "typescript") and node_ran_out:
        # Seen on a loaded machine (about one run in ten): node's memory ran out (OOM-killed, or
        # V8 aborting at its heap limit) before the agent's cap cut it; the cause is not
        # understood yet (docs/reliability.md). Contained all the same, never past the cap.
        assert len(result.stdout) + len(result.stderr) <= 64 * 1024
        return
    assert result.verdict == "output_limit" and result.completion["truncated"], result.completion
    assert LINE in result.stdout, (result.stderr[-2000:], result.events[:6])
    assert len(result.stdout) + len(result.stderr) <= 64 * 1024


# --- CPU spin ---------------------------------------------------------------------------------

CPU_SPIN = {
    "bash": "echo attack-started\nwhile :; do :; done\n",
    "c": dedent("""
        #include <stdio.h>

        int main(void) {
            volatile unsigned long n = 0;
            puts("attack-started");
            fflush(stdout);
            for (;;)
                n++;
        }
    """),
    "cpp": dedent("""
        #include <iostream>

        int main() {
            volatile unsigned long n = 0;
            std::cout << "attack-started" << std::endl;
            for (;;)
                n++;
        }
    """),
    "go": dedent("""
        package main

        import "fmt"

        func main() {
            fmt.Println("attack-started")
            for {
            }
        }
    """),
    "java": dedent("""
        public class Main {
            static volatile long n;

            public static void main(String[] args) {
                System.out.println("attack-started");
                while (true) {
                    n++;
                }
            }
        }
    """),
    "javascript": "console.log('attack-started');\nfor (;;) {}\n",
    "lua": "print('attack-started')\nio.stdout:flush()\nwhile true do end\n",
    "perl": '$| = 1;\nprint "attack-started\\n";\n1 while 1;\n',
    "php": '<?php\necho "attack-started\\n";\nwhile (true) {\n}\n',
    "python": "print('attack-started', flush=True)\nwhile True:\n    pass\n",
    "ruby": "$stdout.sync = true\nputs 'attack-started'\nloop {}\n",
    "rust": dedent("""
        fn main() {
            println!("attack-started");
            let mut n: u64 = 0;
            loop {
                unsafe { std::ptr::write_volatile(&mut n, n.wrapping_add(1)) };
            }
        }
    """),
    "typescript": "const started: string = 'attack-started';\nconsole.log(started);\nfor (;;) {}\n",
    # The languages of the extra images: the CPU spin is their one attack here.
    "ada": dedent("""
        with Ada.Text_IO;

        procedure Main is
           N : Long_Integer := 0 with Volatile;
        begin
           Ada.Text_IO.Put_Line ("attack-started");
           Ada.Text_IO.Flush;
           loop
              N := N + 1;
           end loop;
        end Main;
    """),
    "assembly": dedent("""
        section .data
            msg db "attack-started", 10
        section .text
            global _start
        _start:
            mov eax, 1
            mov edi, 1
            mov rsi, msg
            mov edx, 15
            syscall
        spin:
            jmp spin
    """),
    "awk": 'BEGIN {\n    print "attack-started"\n    fflush()\n    while (1) n++\n}\n',
    "commonlisp": '(format t "attack-started~%")\n(finish-output)\n(loop)\n',
    "csharp": dedent("""
        class Program {
            static volatile int n;
            static void Main() {
                System.Console.WriteLine("attack-started");
                while (true) n++;
            }
        }
    """),
    "d": dedent("""
        import std.stdio;

        void main() {
            writeln("attack-started");
            stdout.flush();
            for (;;) {}
        }
    """),
    "elixir": 'IO.puts("attack-started")\nStream.repeatedly(fn -> :spin end) |> Stream.run()\n',
    "erlang": dedent("""
        -module(main).
        -export([main/1]).

        main(_) ->
            io:format("attack-started~n"),
            spin(0).

        spin(N) -> spin(N + 1).
    """),
    "fortran": dedent("""
        program spin
          integer, volatile :: n = 0
          print '(a)', 'attack-started'
          flush(6)
          do
            n = n + 1
          end do
        end program spin
    """),
    "ocaml": 'let () =\n  print_endline "attack-started";\n  while true do () done\n',
    "pascal": dedent("""
        program Spin;
        begin
          WriteLn('attack-started');
          Flush(Output);
          while True do ;
        end.
    """),
    "prolog": ":- initialization(main, main).\n\nmain :-\n    format(\"attack-started~n\"),\n"
              "    flush_output,\n    spin.\n\nspin :- spin.\n",
    "r": 'cat("attack-started\\n")\nflush(stdout())\nrepeat {}\n',
    "raku": "say 'attack-started';\n$*OUT.flush;\nloop { }\n",
    "scheme": '(display "attack-started")\n(newline)\n(force-output)\n(let loop () (loop))\n',
    "tcl": 'puts "attack-started"\nflush stdout\nwhile 1 {}\n',
}


@pytest.mark.parametrize(("language", "program"), cases(CPU_SPIN))
async def test_cpu_spin_ends_at_the_wall_limit(
    platform: Running, language: str, program: str,
) -> None:
    result, limit = await attack_started(platform, language, program, {"time_limit"},
                                         {"wallMs": wall_ms(language), "cpuMs": CPU_ROOM_MS})
    assert result.completion["wallMs"] >= limit, "killed only once the limit was reached"


# --- open-file exhaustion ---------------------------------------------------------------------

OPEN_FILES = {
    "bash": 'n=0\nwhile exec {fd}</dev/null; do n=$((n + 1)); done 2>&1\necho "$n"\n',
    "c": dedent("""
        #include <errno.h>
        #include <fcntl.h>
        #include <stdio.h>
        #include <string.h>

        int main(void) {
            int n = 0;
            while (open("/dev/null", O_RDONLY) >= 0)
                n++;
            printf("%d %s\\n", n, strerror(errno));
        }
    """),
    "go": dedent("""
        package main

        import (
            "fmt"
            "os"
        )

        func main() {
            var files []*os.File
            for {
                f, err := os.Open("/dev/null")
                if err != nil {
                    fmt.Println(len(files), err)
                    return
                }
                files = append(files, f)
            }
        }
    """),
    "java": dedent("""
        import java.io.FileInputStream;
        import java.io.IOException;
        import java.util.ArrayList;
        import java.util.List;

        public class Main {
            public static void main(String[] args) {
                List<FileInputStream> files = new ArrayList<>();
                try {
                    while (true) {
                        files.add(new FileInputStream("/dev/null"));
                    }
                } catch (IOException e) {
                    System.out.println(files.size() + " " + e.getMessage());
                }
            }
        }
    """),
    "javascript": dedent("""
        const fs = require('fs');
        const fds = [];
        try {
            for (;;) fds.push(fs.openSync('/dev/null', 'r'));
        } catch (e) {
            console.log(fds.length, e.message);
        }
    """),
    "lua": dedent("""
        local files = {}
        while true do
            local f, err = io.open('/dev/null')
            if not f then
                print(#files, err)
                break
            end
            files[#files + 1] = f
        end
    """),
    "perl": dedent("""
        my @files;
        while (open(my $fh, '<', '/dev/null')) {
            push @files, $fh;
        }
        print scalar(@files), " $!\\n";
    """),
    "php": dedent("""
        <?php
        $files = [];
        while (($f = @fopen('/dev/null', 'r')) !== false) {
            $files[] = $f;
        }
        echo count($files), ' ', error_get_last()['message'], "\\n";
    """).lstrip(),
    "python": dedent("""
        files = []
        try:
            while True:
                files.append(open('/dev/null'))
        except OSError as exc:
            print(len(files), exc.strerror)
    """),
    "ruby": dedent("""
        files = []
        begin
          loop { files << File.open('/dev/null') }
        rescue SystemCallError => e
          puts "#{files.size} #{e.message}"
        end
    """),
    "rust": dedent("""
        use std::fs::File;

        fn main() {
            let mut files = Vec::new();
            loop {
                match File::open("/dev/null") {
                    Ok(f) => files.push(f),
                    Err(e) => {
                        println!("{} {}", files.len(), e);
                        break;
                    }
                }
            }
        }
    """),
}


@pytest.mark.parametrize(("language", "program"), cases(OPEN_FILES))
async def test_open_file_exhaustion_fails_cleanly(
    platform: Running, language: str, program: str,
) -> None:
    """The ``nofile`` limit refuses the 257th descriptor; the program sees an ordinary error."""
    result = await attack_in(platform, language, program)
    assert result.verdict == "ok", result.events
    assert "too many open files" in result.stdout.lower(), result.stdout
    assert 0 < int(result.stdout.split("\n")[-2].split()[0]) < 256


# --- the host's environment -------------------------------------------------------------------

ENVIRONMENT = {
    "bash": "env\n",
    "c": dedent("""
        #include <stdio.h>

        extern char **environ;

        int main(void) {
            for (char **e = environ; *e; e++)
                puts(*e);
        }
    """),
    "cpp": dedent("""
        #include <iostream>

        extern char **environ;

        int main() {
            for (char **e = environ; *e; e++)
                std::cout << *e << "\\n";
        }
    """),
    "go": dedent("""
        package main

        import (
            "fmt"
            "os"
        )

        func main() {
            for _, pair := range os.Environ() {
                fmt.Println(pair)
            }
        }
    """),
    "java": dedent("""
        public class Main {
            public static void main(String[] args) {
                System.getenv().forEach((k, v) -> System.out.println(k + "=" + v));
            }
        }
    """),
    "javascript": "for (const [k, v] of Object.entries(process.env)) console.log(`${k}=${v}`);\n",
    "lua": dedent("""
        local f = io.open('/proc/self/environ', 'rb')
        print((f:read('a'):gsub('%z', '\\n')))
        print('canary', os.getenv('CODERUNNER_' .. 'CANARY'))
    """),
    "perl": 'print "$_=$ENV{$_}\\n" for sort keys %ENV;\n',
    "php": '<?php\nforeach (getenv() as $k => $v) {\n    echo "$k=$v\\n";\n}\n',
    "python": "import os\nfor k, v in os.environ.items():\n    print(f'{k}={v}')\n",
    "ruby": 'ENV.each { |k, v| puts "#{k}=#{v}" }\n',
    "rust": 'fn main() {\n    for (k, v) in std::env::vars() {\n'
            '        println!("{}={}", k, v);\n    }\n}\n',
    "typescript": dedent("""
        for (const [k, v] of Object.entries(process.env)) {
            console.log(`${k}=${v ?? ''}`);
        }
    """),
}


@pytest.mark.parametrize(("language", "program"), cases(ENVIRONMENT))
async def test_the_host_environment_stays_out(
    platform: Running, language: str, program: str,
) -> None:
    result = await attack_in(platform, language, program)
    assert result.verdict == "ok", result.events
    assert "PATH=" in result.stdout
    for leak in (CANARY, "CODERUNNER_CANARY", "NATS", "DOCKER", "RUNNER_ID", "PLATFORM_ID"):
        assert leak not in result.stdout, result.stdout
    if language == "lua":
        assert "canary\tnil" in result.stdout


# --- network egress ---------------------------------------------------------------------------

EGRESS = {
    "bash": dedent("""
        for t in "$@"; do
            if timeout 3 bash -c "exec 3<>/dev/tcp/${t%:*}/${t#*:}" 2>/dev/null; then
                echo "$t CONNECTED"
            else
                echo "$t blocked"
            fi
        done
    """),
    "c": dedent("""
        #include <arpa/inet.h>
        #include <errno.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/socket.h>
        #include <sys/time.h>
        #include <unistd.h>

        int main(int argc, char **argv) {
            for (int i = 1; i < argc; i++) {
                char host[64];
                int port;
                sscanf(argv[i], "%63[^:]:%d", host, &port);
                struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
                inet_pton(AF_INET, host, &addr.sin_addr);
                int s = socket(AF_INET, SOCK_STREAM, 0);
                struct timeval tv = {2, 0};
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                if (s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof addr) == 0)
                    printf("%s CONNECTED\\n", argv[i]);
                else
                    printf("%s blocked %s\\n", argv[i], strerror(errno));
                if (s >= 0)
                    close(s);
            }
        }
    """),
    "go": dedent("""
        package main

        import (
            "fmt"
            "net"
            "os"
            "time"
        )

        func main() {
            for _, target := range os.Args[1:] {
                conn, err := net.DialTimeout("tcp", target, 2*time.Second)
                if err == nil {
                    conn.Close()
                    fmt.Println(target, "CONNECTED")
                } else {
                    fmt.Println(target, "blocked", err)
                }
            }
        }
    """),
    "java": dedent("""
        import java.net.InetSocketAddress;
        import java.net.Socket;

        public class Main {
            public static void main(String[] args) {
                for (String target : args) {
                    String[] parts = target.split(":");
                    try (Socket s = new Socket()) {
                        int port = Integer.parseInt(parts[1]);
                        s.connect(new InetSocketAddress(parts[0], port), 2000);
                        System.out.println(target + " CONNECTED");
                    } catch (Exception e) {
                        System.out.println(target + " blocked " + e.getClass().getSimpleName());
                    }
                }
            }
        }
    """),
    "javascript": dedent("""
        const net = require('net');
        function attempt(target) {
            const [host, port] = target.split(':');
            return new Promise((resolve) => {
                const s = net.connect({ host, port: Number(port), timeout: 2000 });
                s.on('connect', () => { s.destroy(); resolve('CONNECTED'); });
                s.on('timeout', () => { s.destroy(); resolve('blocked timeout'); });
                s.on('error', (e) => resolve('blocked ' + e.code));
            });
        }
        (async () => {
            for (const target of process.argv.slice(2)) console.log(target, await attempt(target));
        })();
    """),
    "perl": dedent("""
        use IO::Socket::INET;
        $| = 1;
        for my $t (@ARGV) {
            my ($host, $port) = split /:/, $t;
            my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                          Proto => 'tcp', Timeout => 2);
            print $s ? "$t CONNECTED\\n" : "$t blocked $@\\n";
        }
    """),
    "php": dedent("""
        <?php
        foreach (array_slice($argv, 1) as $t) {
            [$host, $port] = explode(':', $t);
            $s = @fsockopen($host, (int) $port, $errno, $errstr, 2);
            echo $s ? "$t CONNECTED\\n" : "$t blocked $errstr\\n";
        }
    """).lstrip(),
    "python": dedent("""
        import socket, sys
        for target in sys.argv[1:]:
            host, port = target.split(':')
            try:
                socket.create_connection((host, int(port)), timeout=2).close()
                print(target, 'CONNECTED')
            except OSError as exc:
                print(target, 'blocked', type(exc).__name__)
    """),
    "ruby": dedent("""
        require 'socket'
        ARGV.each do |t|
          host, port = t.split(':')
          begin
            Socket.tcp(host, port.to_i, connect_timeout: 2).close
            puts "#{t} CONNECTED"
          rescue StandardError => e
            puts "#{t} blocked #{e.class}"
          end
        end
    """),
}


@pytest.fixture
def host_listener() -> Iterator[tuple[socket.socket, int]]:
    """A TCP listener of our own on every host address."""
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    listener.setblocking(False)
    yield listener, listener.getsockname()[1]
    listener.close()


def host_addresses() -> set[str]:
    """Every IPv4 address of this machine: its local routes."""
    lines = Path("/proc/net/fib_trie").read_text().splitlines()
    return {above.split()[-1] for above, line in pairwise(lines)
            if "/32 host LOCAL" in line}


def host_targets(platform: Running, port: int) -> list[str]:
    """Our listener on every address of the host (Docker's bridge included), and the
    platform's NATS port."""
    nats_port = int(platform.nats_url.rsplit(":", 1)[1])
    hosts = sorted(host_addresses() | {bridge_gateway(), "127.0.0.1"})
    return [*(f"{host}:{port}" for host in hosts), f"127.0.0.1:{nats_port}"]


@pytest.mark.parametrize(("language", "program"), cases(EGRESS))
async def test_network_egress_reaches_nothing_on_the_host(
    platform: Running, host_listener: tuple[socket.socket, int], language: str, program: str,
) -> None:
    """On the session's network (what the edge picks for a program that opens sockets):
    no connection to the host, loopback being the sandbox's own."""
    listener, port = host_listener
    targets = host_targets(platform, port)
    result = await attack_in(platform, language, program, args=targets, network=True,
                             limits={"wallMs": max(wall_ms(language), 30_000)})
    assert result.verdict == "ok", result.events
    outcome = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert sorted(outcome) == sorted(targets), result.stdout
    assert all(v.startswith("blocked") for v in outcome.values()), outcome
    with pytest.raises(BlockingIOError):
        listener.accept()


# --- compile-time attacks ---------------------------------------------------------------------


def doubling(line: str, levels: int) -> str:
    """``line`` for levels 1..``levels``, each level built from the one before it ({p})."""
    return "".join(line.format(i=i, p=i - 1) + "\n" for i in range(1, levels + 1))


COMPILE_TIME = {
    # 10^12 tokens from a dozen macros
    "c": "#define A0 +1+1+1+1+1+1+1+1+1+1\n"
         + doubling("#define A{i} " + " ".join(["A{p}"] * 10), 12)
         + "int main(void) { return 0 A12; }\n",
    # 2^40 distinct instantiations (a memoised recursion would be linear)
    "cpp": dedent("""
        template <int N, unsigned long long K> struct T {
            static constexpr unsigned long long v = T<N - 1, 2 * K>::v + T<N - 1, 2 * K + 1>::v;
        };
        template <unsigned long long K> struct T<0, K> {
            static constexpr unsigned long long v = K;
        };
        int main() { return static_cast<int>(T<40, 1>::v); }
    """),
    # a macro whose input doubles at every expansion
    "rust": dedent("""
        macro_rules! bomb {
            ($($t:tt)*) => { bomb!($($t)* $($t)*); };
        }

        fn main() {
            bomb!(x);
        }
    """),
    # a 16 TiB string constant
    "go": 'package main\n\nimport "fmt"\n\nconst a0 = "0123456789abcdef"\n'
          + doubling("const a{i} = a{p} + a{p}", 40)
          + "\nfunc main() { fmt.Println(len(a40)) }\n",
    # a 16 GiB string constant folded by javac
    "java": 'public class Main {\n    static final String A0 = "0123456789abcdef";\n'
            + doubling("    static final String A{i} = A{p} + A{p};", 30)
            + "    public static void main(String[] args) {\n"
            + "        System.out.println(A30.length());\n    }\n}\n",
    # a type recursion a million levels deep, and a union of a million members
    "typescript": dedent("""
        type Tuple<N extends number, A extends unknown[] = []> =
            A['length'] extends N ? A : Tuple<N, [...A, unknown]>;
        type D = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
        type Million = `${D}${D}${D}${D}${D}${D}`;
        const n: Tuple<1000000>['length'] = 1000000;
        const m: Million = '000000';
        console.log(n, m);
    """),
}


@pytest.mark.parametrize(("language", "program"), cases(COMPILE_TIME))
async def test_compile_time_attack_ends_within_limits(
    platform: Running, language: str, program: str,
) -> None:
    """The compile step runs in the sandbox under the same limits as the program."""
    result = await attack_in(platform, language, program, compile_time=True,
                             limits={"wallMs": wall_ms(language)})
    assert result.verdict in LIMIT_VERDICTS | {"compile_error"}, result.completion
    assert not [e for e in result.events if e["type"] == "output" and e["stream"] == "stdout"]
