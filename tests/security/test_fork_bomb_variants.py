"""Fork bombs built to slip past a clean-up (issue #16): catching fork's errors, threads that
fork, children in new sessions, stopped children, in every language of the catalog where the
standard library can write them (docs/reliability.md lists which, and why the others cannot).
Python and C have a run per variant; elsewhere one program combines what the language offers,
to keep the test short, and ignores ``SIGHUP`` (an orphaned process group with a stopped member
gets one: under gVisor the PHP bomb died of it before its wall limit).

One socket session per language and isolation: a first run warms its sandbox, then each variant
runs as a later run of that session (one test case each) with a short wall limit, per step (a
compiled language's compile step has one too). Each bomb must start (it prints ``STARTED``
first), end with the verdict the docs claim, and have its completion on the socket within the
wall limit plus the hard end's 2 s grace from its ``running`` event, plus
``TRANSPORT_MARGIN_S`` for the completion's last trip (tests/integration/test_hard_end.py);
the session's next run then prints ``warm`` (``ok``), and warms the sandbox for the next
variant. A sandbox where 32 or more user processes were alive at once is replaced, not reused
(runners/agent/agent.py, CROWDED_PROCESSES): under gVisor a bomb's host tasks never come back
down.

The verdict is ``time_limit``, except under gVisor where a bomb runs out of memory first
(``memory_limit``; ``EXPECTED``): gVisor's kernel copies a forked process's memory in large
pieces and counts every process's memory against the container."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from textwrap import dedent

import pytest
import pytest_asyncio

from tests.conftest import Running
from tests.integration.test_hard_end import GRACE_S, TRANSPORT_MARGIN_S
from tests.integration.wsclient import Client, Event
from tests.security.test_attacks_per_runtime import GO_MAKE_THREADS, MAIN

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

STARTED = "bomb-started"

VARIANTS: dict[str, dict[str, str]] = {
    "python": {
        "catching-errors": """
            import os
            print('bomb-started', flush=True)
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """,
        "threads": """
            import os, threading
            print('bomb-started', flush=True)
            def bomb():
                while True:
                    try:
                        os.fork()
                    except OSError:
                        pass
            for _ in range(8):
                threading.Thread(target=bomb).start()
        """,
        "setsid": """
            import os
            print('bomb-started', flush=True)
            while True:
                try:
                    if os.fork() == 0:
                        os.setsid()
                except OSError:
                    pass
        """,
        "stopped-children": """
            import os, signal
            print('bomb-started', flush=True)
            while True:
                try:
                    child = os.fork()
                    if child:
                        os.kill(child, signal.SIGSTOP)
                except OSError:
                    pass
        """,
    },
    "c": {
        "catching-errors": """
            #include <stdio.h>
            #include <unistd.h>
            int main(void) { puts("bomb-started"); fflush(stdout); for (;;) fork(); }
        """,
        "threads": """
            #include <pthread.h>
            #include <stdio.h>
            #include <unistd.h>
            static void *bomb(void *arg) { for (;;) fork(); return arg; }
            int main(void) {
                puts("bomb-started"); fflush(stdout);
                pthread_t t;
                for (int i = 0; i < 8; i++) pthread_create(&t, 0, bomb, 0);
                bomb(0);
            }
        """,
        "setsid": """
            #include <stdio.h>
            #include <unistd.h>
            int main(void) {
                puts("bomb-started"); fflush(stdout);
                for (;;) if (fork() == 0) setsid();
            }
        """,
        "stopped-children": """
            #include <signal.h>
            #include <stdio.h>
            #include <unistd.h>
            int main(void) {
                puts("bomb-started"); fflush(stdout);
                for (;;) { pid_t c = fork(); if (c > 0) kill(c, SIGSTOP); }
            }
        """,
    },
    "cpp": {
        "all-at-once": """
            #include <csignal>
            #include <cstdio>
            #include <system_error>
            #include <thread>
            #include <unistd.h>
            static void bomb() {
                for (unsigned n = 0;; n++) {
                    pid_t child = fork();
                    if (child == 0) setsid();
                    else if (child > 0 && n % 2) kill(child, SIGSTOP);
                }
            }
            int main() {
                std::signal(SIGHUP, SIG_IGN);
                std::puts("bomb-started"); std::fflush(stdout);
                for (int i = 0; i < 8; i++) {
                    try { std::thread(bomb).detach(); } catch (const std::system_error&) {}
                }
                bomb();
            }
        """,
    },
    "bash": {
        "background": "echo bomb-started\nbomb() { bomb | bomb & }\nwhile true; do bomb; done\n",
        "setsid": "echo bomb-started\n"
                  "while true; do setsid bash -c 'while true; do :; done' & done\n",
    },
    "ruby": {
        "all-at-once": """
            $stdout.sync = true
            trap('HUP', 'IGNORE')
            puts 'bomb-started'
            def bomb
              n = 0
              loop do
                n += 1
                child = fork
                if child.nil?
                  Process.setsid
                elsif n.odd?
                  Process.kill(:STOP, child)
                end
              rescue StandardError
                nil
              end
            end
            8.times { Thread.new { bomb } rescue nil }
            bomb
        """,
    },
    "perl": {
        "all-at-once": """
            use threads;
            use POSIX ();
            $| = 1;
            $SIG{HUP} = 'IGNORE';
            print "bomb-started\\n";
            sub bomb {
                my $n = 0;
                while (1) {
                    my $pid = fork;
                    if (defined $pid && $pid == 0) { POSIX::setsid() }
                    elsif ($pid && ++$n % 2) { kill 'STOP', $pid }
                }
            }
            for (1 .. 8) { my $t = threads->create(\\&bomb); $t->detach if $t }
            bomb();
        """,
    },
    "php": {
        "all-at-once": """
            <?php
            pcntl_signal(SIGHUP, SIG_IGN);
            echo "bomb-started\\n";
            for ($n = 0;; $n++) {
                $pid = @pcntl_fork();
                if ($pid === 0) {
                    @posix_setsid();
                } elseif ($pid > 0 && $n % 2) {
                    @posix_kill($pid, SIGSTOP);
                }
            }
        """,
    },
    "go": {
        "all-at-once": """
            package main

            import (
                "fmt"
                "os"
                "os/signal"
                "runtime"
                "sync"
                "syscall"
                "time"
            )

            func bomb() {
                child := &syscall.ProcAttr{Sys: &syscall.SysProcAttr{Setsid: true}}
                for n := 0; ; n++ {
                    pid, err := syscall.ForkExec(os.Args[0], []string{os.Args[0], "child"}, child)
                    if err == nil && n%2 == 1 {
                        _ = syscall.Kill(pid, syscall.SIGSTOP)
                    }
                }
            }

            func main() {
                signal.Ignore(syscall.SIGHUP)
                if len(os.Args) == 1 {
                    makeThreads(24)
                    fmt.Println("bomb-started")
                }
                for i := 0; i < 8; i++ {
                    go bomb()
                }
                bomb()
            }
        """ + GO_MAKE_THREADS,
    },
    "rust": {
        "all-at-once": """
            use std::os::unix::process::CommandExt;
            use std::process::{Command, Stdio};

            extern "C" {
                fn setsid() -> i32;
                fn kill(pid: i32, signal: i32) -> i32;
                fn signal(signal: i32, handler: usize) -> usize;
            }
            const SIGHUP: i32 = 1;
            const SIGSTOP: i32 = 19;
            const SIG_IGN: usize = 1;

            fn bomb() {
                let me = std::env::current_exe().unwrap();
                for n in 0u64.. {
                    let mut child = Command::new(&me);
                    child.arg("child").stdin(Stdio::null()).stdout(Stdio::null())
                        .stderr(Stdio::null());
                    unsafe {
                        child.pre_exec(|| {
                            setsid();
                            Ok(())
                        });
                    }
                    if let Ok(spawned) = child.spawn() {
                        if n % 2 == 1 {
                            unsafe {
                                kill(spawned.id() as i32, SIGSTOP);
                            }
                        }
                    }
                }
            }

            fn main() {
                unsafe {
                    signal(SIGHUP, SIG_IGN);
                }
                if std::env::args().count() == 1 {
                    println!("bomb-started");
                }
                for _ in 0..8 {
                    let _ = std::thread::Builder::new().spawn(bomb);
                }
                bomb();
            }
        """,
    },
    "java": {
        "all-at-once": """
            public class Main {
                public static void main(String[] args) {
                    if (args.length == 0) {
                        System.out.println("bomb-started");
                        System.out.flush();
                    }
                    ProcessBuilder me = new ProcessBuilder("java", "-Xshare:auto",
                        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", "/tmp/classes",
                        "Main", "child");
                    Runnable bomb = () -> {
                        while (true) {
                            try {
                                me.start();
                            } catch (Throwable e) {
                            }
                        }
                    };
                    for (int i = 0; i < 8; i++) {
                        try {
                            new Thread(bomb).start();
                        } catch (Throwable e) {
                        }
                    }
                    bomb.run();
                }
            }
        """,
    },
    "javascript": {
        "all-at-once": """
            const { spawn } = require('child_process');
            const { Worker, isMainThread } = require('worker_threads');
            process.on('SIGHUP', () => {});
            if (isMainThread && process.argv.length === 2) console.log('bomb-started');
            if (isMainThread) {
                for (let i = 0; i < 4; i++) {
                    try { new Worker(__filename).on('error', () => {}); } catch (e) {}
                }
            }
            let n = 0;
            function bomb() {
                try {
                    const child = spawn(process.execPath, [__filename, 'child'],
                                        { stdio: 'ignore', detached: true });
                    child.on('error', () => {});
                    if (child.pid && n++ % 2) child.kill('SIGSTOP');
                } catch (e) {}
                setImmediate(bomb);
            }
            bomb();
        """,
    },
    "lua": {
        "os-execute": """
            if not arg[1] then print("bomb-started") io.stdout:flush() end
            while true do
                os.execute("exec 2>/dev/null; setsid lua5.4 " .. arg[0] .. " child &")
            end
        """,
    },
}
WARM = {
    "python": "print('warm')",
    "c": '#include <stdio.h>\nint main(void) { puts("warm"); }\n',
    "cpp": '#include <cstdio>\nint main() { std::puts("warm"); }\n',
    "bash": "echo warm",
    "ruby": "puts 'warm'",
    "perl": 'print "warm\\n";',
    "php": '<?php echo "warm\\n";',
    "go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("warm") }\n',
    "rust": 'fn main() { println!("warm"); }\n',
    "java": 'public class Main {\n    public static void main(String[] a) {\n'
            '        System.out.println("warm");\n    }\n}\n',
    "javascript": "console.log('warm')",
    "lua": "print('warm')",
}
COMPILED = {"c", "cpp", "go", "rust", "java"}
"""The wall limit applies to each step: a compiled language's bound adds the compile step's."""
WALL_MS = {"c": 3000, "cpp": 5000, "go": 4000, "rust": 6000, "java": 4000, "javascript": 3000}
"""Per step; 2 s unless named here (compilers, and node's start-up, need more than 2 s on a
loaded machine before the bomb starts)."""
CPU_MS = 60_000
"""Per process, far above any wall limit here: the wall limit ends each bomb. Left to its
default (the larger of the runtime's CPU limit and the wall limit) rustc under gVisor ran into
its CPU limit (SIGXCPU) within 3.3 s of a 6 and an 8 s wall limit."""
MEMORY_MB = {("python", "runc"): 128, ("perl", "runc"): 128, ("ruby", "runc"): 128,
             ("python", "gvisor"): 128, ("perl", "gvisor"): 128, ("ruby", "gvisor"): 128,
             ("php", "gvisor"): 128, ("c", "gvisor"): 1024, ("javascript", "gvisor"): 1024}
"""Python's, Perl's, Ruby's and PHP's sessions run with 128 MB (every run of them, so that their
sandboxes are reused under gVisor too, where limits cannot change in place): their bombs under
gVisor then run out of memory in about 1.5 s, whatever the variant (their wall limit is
``MEMORY_BOUND_WALL_MS``). With 256 MB Python's slower
variant, threads, reached its wall limit first in some runs and not in others, and Ruby's
threads that fork ran out of memory in 1.7 s in one CI run and reached the wall limit in others;
PHP's bomb under gVisor the same (2.2 s, one CI run in four); under runc PHP keeps the default
(at 128 MB its 64 processes' own memory ended it memory_limit once in six runs). C under gVisor
runs with 1 024 MB, the most a run may have: its threads bomb (nine threads forking) makes
address spaces fast enough that the sandbox's memory (gVisor's own for each address space
included) reached C's default limit in 3.7 s in one CI run (memory_limit, not time_limit);
JavaScript's all-at-once (Node processes and workers) reached its default within its 2 s wall
limit in one CI run (ci21), and has 1 024 MB under gVisor too."""
EXPECTED = {("python", "gvisor"): "memory_limit", ("perl", "gvisor"): "memory_limit",
            ("ruby", "gvisor"): "memory_limit", ("php", "gvisor"): "memory_limit"}
"""The verdict where it is not ``time_limit`` (docs/reliability.md)."""

CASES = [(language, variant) for language, variants in VARIANTS.items() for variant in variants]


def expected(language: str, isolation: str) -> str:
    return EXPECTED.get((language, isolation), "time_limit")


MEMORY_BOUND_WALL_MS = 10_000
"""The wall limit of the bombs that run out of memory (``EXPECTED``): about 1.5 s into a 2 s
wall limit was a race on a loaded machine (ci36 saw the same race in test_attacks_per_runtime's
Python bomb); with 10 s the memory has no way but to run out first, and the test ends when it
does."""


def wall_limit_ms(language: str, isolation: str) -> int:
    if (language, isolation) in EXPECTED:
        return MEMORY_BOUND_WALL_MS
    return WALL_MS.get(language, 2000)


def limits(language: str, isolation: str, wall_ms: int) -> dict[str, int]:
    key = (language, isolation)
    memory = {"memoryMb": MEMORY_MB[key]} if key in MEMORY_MB else {}
    return {"wallMs": wall_ms, "cpuMs": CPU_MS, **memory}


class Sessions:
    """One socket session per (isolation, language), its sandbox warmed by a first run."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], Client] = {}

    async def warm(self, platform: Running, language: str) -> Client:
        key = (platform.isolation, language)
        if key not in self.clients:
            self.clients[key] = await Client.connect(platform.ws_url)
            await run_warm(self.clients[key], language, platform.isolation)
        return self.clients[key]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sessions() -> AsyncIterator[Sessions]:
    opened = Sessions()
    yield opened
    await opened.close()


async def run_warm(client: Client, language: str, isolation: str) -> None:
    warm = await client.run({MAIN[language]: WARM[language]}, language=language,
                            limits=limits(language, isolation, 30000))
    assert (warm.verdict, warm.stdout) == ("ok", "warm\n"), warm.events


@dataclass
class Ended:
    took: float
    """Seconds from the ``running`` event to the completion, on the test's clock."""
    completion: Event
    stdout: str
    stderr: str


async def run_timed(client: Client, language: str, isolation: str, program: str,
                    wall_ms: int) -> Ended:
    queued = await client.submit({MAIN[language]: program}, language=language,
                                 limits=limits(language, isolation, wall_ms))
    assert queued["type"] == "status", queued
    running_at, output = 0.0, {"stdout": "", "stderr": ""}
    while True:
        event = await client.receive()
        if event.get("executionId") != queued["executionId"]:
            continue
        if event.get("status") == "running":
            running_at = time.monotonic()
        if event["type"] == "output":
            output[event["stream"]] += event["data"]
        if event["type"] == "completion":
            return Ended(time.monotonic() - running_at, event, output["stdout"],
                         output["stderr"][-2000:])


@pytest.mark.parametrize(("language", "variant"), CASES)
async def test_fork_bomb_variant_in_a_warm_sandbox_ends_within_the_grace(
        platform: Running, sessions: Sessions, language: str, variant: str) -> None:
    """On a loaded machine the compile step or the runtime's start-up can use the whole wall
    limit (it applies to each step) before the bomb starts: that run must still end
    ``time_limit`` within the bound, and the bomb is tried again with twice the room, twice
    at most (as tests/security/test_attacks_per_runtime.py does)."""
    client = await sessions.warm(platform, language)
    program = dedent(VARIANTS[language][variant]).lstrip()
    wall_ms = wall_limit_ms(language, platform.isolation)
    for _ in range(3):
        ended = await run_timed(client, language, platform.isolation, program, wall_ms)
        steps = 2 if language in COMPILED else 1
        bound = wall_ms / 1000 * steps + GRACE_S + TRANSPORT_MARGIN_S
        assert ended.took <= bound, f"completion {ended.took:.2f} s after running: {ended}"
        started = STARTED in ended.stdout
        verdict = expected(language, platform.isolation) if started else "time_limit"
        assert ended.completion["verdict"] == verdict, ended
        await run_warm(client, language, platform.isolation)
        if started:
            return
        wall_ms *= 2
    pytest.fail(f"the bomb never started, even with a wall limit of {wall_ms // 2} ms")
