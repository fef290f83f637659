"""The ``coderunner`` command: the composition root of the platform."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from contracts.runtimes import load_catalog
from contracts.settings import DEFAULT_NATS_URL, DEFAULT_RUNTIMES_DIR, JanitorSettings

DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_BROKEN_PIPE = 141
"""As a shell reports a command that SIGPIPE stopped (128 + 13)."""


def _setup_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def cmd_up(args: argparse.Namespace) -> int:
    from coderunner import up

    code = cmd_images(argparse.Namespace(language=None, all=False, force=False, quiet=False))
    if code:
        return code
    return up.run(Path(args.data_dir), args.port, os.environ)


def cmd_role(args: argparse.Namespace) -> int:
    _setup_logging()
    if args.command == "edge":
        from edge.main import main as role_main
    elif args.command == "dispatcher":
        from dispatcher.main import main as role_main
    elif args.command == "runner":
        from runners.main import main as role_main
    else:
        from janitor.main import main as role_main
    role_main()
    return 0


def cmd_images_transfer(args: argparse.Namespace) -> int:
    import docker

    from coderunner.images_transfer import TransferError, export, import_, runtime_tags

    if not args.file:
        print(f"coderunner images {args.action}: name the file (--file)", file=sys.stderr)
        return 2
    client = docker.from_env(timeout=600)
    try:
        if args.action == "export":
            catalog = load_catalog(os.environ.get("RUNTIMES_DIR", DEFAULT_RUNTIMES_DIR))
            tags = runtime_tags(client, catalog, args.language)
            export(tags, Path(args.file))
            print(f"exported {len(tags)} image(s) to {args.file}: {', '.join(tags)}")
        else:
            for tag, inputs in import_(client, Path(args.file)).items():
                print(f"imported {tag} (inputs {inputs or 'unknown'})")
    except TransferError as exc:
        print(f"coderunner images {args.action}: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


def cmd_runner(args: argparse.Namespace) -> int:
    if args.action != "drain":
        return cmd_role(args)
    if not args.runner_id:
        print("coderunner runner drain: name the runner (its RUNNER_ID)", file=sys.stderr)
        return 2
    from coderunner import runner_drain

    return runner_drain.main(args.nats_url, args.runner_id, args.wait)


def cmd_janitor(args: argparse.Namespace) -> int:
    if args.action != "sweep":
        return cmd_role(args)
    from contracts.packages import layer_ttl_s
    from janitor.bus import live_runners
    from janitor.docker_host import DockerHost, DockerUnreachable

    settings = JanitorSettings.from_env()
    alive = live_runners(settings.nats_url, settings.nats)
    host = DockerHost(settings.docker_host, settings.platform_id, layer_ttl_s())
    try:
        removals = host.sweep(dry_run=args.dry_run, live_runners=alive)
    except DockerUnreachable as exc:
        print(f"coderunner janitor: {exc}", file=sys.stderr)
        return 1
    finally:
        host.close()
    if args.json:
        print(json.dumps({"dryRun": args.dry_run, "orphansJudged": alive is not None, "removed": [
            {"kind": r.kind, "role": r.role, "id": r.id, "name": r.name, "reason": r.reason}
            for r in removals
        ]}))
    else:
        verb = "would remove" if args.dry_run else "removed"
        for r in removals:
            print(f"{verb} {r.role or r.kind} {r.name} ({r.id[:12]}): {r.reason}")
        print(f"{len(removals)} {'to remove' if args.dry_run else 'removed'}")
        if alive is None:
            print(f"(no runner heartbeats from {settings.nats_url}: orphans were not judged)")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    if getattr(args, "action", "build") in ("export", "import"):
        return cmd_images_transfer(args)
    import docker
    from rich.console import Console

    from coderunner.images import ImageBuilder, ImageBuildError, plans_for
    from contracts.runtimes import default_languages

    console = Console(stderr=True)
    catalog = load_catalog(os.environ.get("RUNTIMES_DIR", DEFAULT_RUNTIMES_DIR))
    client = docker.from_env(timeout=600)
    try:
        languages = args.language or (None if args.all else default_languages(
            os.environ.get("DEFAULT_LANGUAGES"), catalog))
        plans = plans_for(catalog, languages)
        with console.status("checking runtime images…") as status:
            def progress(name: str, line: str) -> None:
                status.update(f"[bold]{name}[/bold]: {line[:100]}")
                milestone = line in ("built", "up to date") or line.startswith("fetching")
                # Without a terminal there is no spinner: print each build step instead.
                step = not console.is_terminal and line.startswith(("Step ", "[base]"))
                if (milestone or step) and not args.quiet:
                    console.print(f"  {name}: {line[:120]}", highlight=False)

            built = ImageBuilder(client, progress).ensure(plans, force=args.force)
    except ImageBuildError as exc:
        console.print(f"[red]image build failed:[/red] {exc}")
        return 1
    finally:
        client.close()
    if built and not args.quiet:
        console.print(f"built {len(built)} image(s): {', '.join(built)}")
    return 0


def cmd_engines(args: argparse.Namespace) -> int:
    from coderunner import engines

    catalog = load_catalog(os.environ.get("RUNTIMES_DIR", DEFAULT_RUNTIMES_DIR))
    names = args.names or ([] if args.action == "list" else ["e1"])
    try:
        if args.action == "list":
            for config in sorted(engines.STATE_DIR.glob("*.json")):
                engine = engines.Engine.existing(config.stem)
                state = "up" if engine.answers() else "down"
                print(f"{engine.name:<12} {state:<5} {engine.socket_url}  {engine.bridge_ip}")
            return 0
        for name in names:
            index = args.index or engines.default_index(name)
            engine = engines.Engine(name, index)
            if args.action == "down":
                engine.teardown(purge=args.purge)
                print(f"engine {name} down{' and purged' if args.purge else ''}")
                continue
            seconds = engine.restart() if args.action == "restart" else engine.start()
            print(f"engine {name} {args.action} in {seconds:.1f} s: "
                  f"DOCKER_HOST={engine.socket_url}", flush=True)
            if args.action == "up":
                tags = engines.image_tags(catalog, args.language or ["python", "bash"])
                started = time.monotonic()
                loaded = engine.load_images(tags)
                print(f"  images: {len(loaded)} loaded ({', '.join(loaded) or 'all present'}) "
                      f"in {time.monotonic() - started:.1f} s")
    except engines.EngineError as exc:
        print(f"coderunner engines: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_runtimes(args: argparse.Namespace) -> int:
    with urllib.request.urlopen(f"{args.url}/api/v1/runtimes", timeout=10) as response:
        runtimes = json.load(response)
    if args.json:
        print(json.dumps(runtimes, indent=2))
        return 0
    rows = [(r["name"], r.get("version") or "-", r["extension"], ", ".join(r["aliases"]) or "-")
            for r in runtimes]
    for row in columns([("LANGUAGE", "VERSION", "FILE", "ALIASES"), *rows]):
        print(row)
    return 0


def columns(rows: list[tuple[str, ...]]) -> list[str]:
    """``rows`` as lines of left-aligned columns, each as wide as its widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def cmd_run(args: argparse.Namespace) -> int:
    from coderunner.client import Program, language_for, run_file
    from contracts.messages import Limits

    main = Path(args.file)
    missing = [p for p in [main, *map(Path, args.extra)] if not p.is_file()]
    if missing:
        print(f"coderunner: no such file: {missing[0]}", file=sys.stderr)
        return 2
    language = args.language
    if language is None:
        with urllib.request.urlopen(f"{args.url}/api/v1/runtimes", timeout=10) as response:
            language = language_for(main, json.load(response))
        if language is None:
            print(f"coderunner: cannot tell the language of {main}; use --language",
                  file=sys.stderr)
            return 2
    if args.stdin is not None:
        stdin_path = Path(args.stdin)
        if not stdin_path.is_file():
            print(f"coderunner: no such file: {stdin_path} (--stdin)", file=sys.stderr)
            return 2
        stdin = stdin_path.read_text()
    else:
        stdin = "" if sys.stdin.isatty() else sys.stdin.read()
    limits = None
    if args.timeout is not None or args.memory is not None:
        limits = Limits(wall_ms=None if args.timeout is None else round(args.timeout * 1000),
                        memory_mb=args.memory)
    program = Program(main, language, [Path(p) for p in args.extra], args.args, stdin, limits)
    ws_url = args.url.replace("http", "ws", 1) + "/ws"
    return run_file(ws_url, program)


def seconds(text: str) -> float:
    """A positive number of seconds, at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.001 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be between 0.001 and 86400 seconds: {text}")
    return value


def megabytes(text: str) -> int:
    """A whole number of megabytes, at least the smallest limit the platform takes."""
    from contracts.messages import MIN_MEMORY_MB

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of megabytes: {text!r}") from None
    if value < MIN_MEMORY_MB:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_MEMORY_MB} MB: {text}")
    return value


def cmd_bench(args: argparse.Namespace) -> int:
    if args.fleet is not None:
        from coderunner import bench_fleet

        return bench_fleet.main(args.fleet, as_json=args.json,
                                setups=args.fleet_setups or bench_fleet.SETUPS,
                                rate=args.fleet_rate)
    if args.fleet_setups is not None or args.fleet_rate is not None:
        raise SystemExit("coderunner bench: --fleet-setups and --fleet-rate go with --fleet")
    if args.hosts is not None:
        from coderunner import bench_hosts

        return bench_hosts.main(args.hosts, as_json=args.json)
    if args.soak is not None:
        from coderunner import soak

        return soak.main(args.soak, as_json=args.json)
    if args.idle_sockets is not None:
        from coderunner import idle_sockets

        return idle_sockets.main(args.idle_sockets, as_json=args.json)
    if args.judge:
        from coderunner import bench_judge

        return bench_judge.main(as_json=args.json)
    if args.start:
        from coderunner import bench_start

        return bench_start.main(as_json=args.json)
    if args.fairness:
        from coderunner import bench_fairness

        return bench_fairness.main(as_json=args.json)
    if args.load:
        from coderunner import load

        return load.main(as_json=args.json)
    from coderunner import bench

    return bench.main(quick=args.quick, as_json=args.json, languages=args.language)


def cmd_stats(args: argparse.Namespace) -> int:
    from coderunner import stats

    return stats.main(args.nats_url, as_json=args.json, watch=args.watch)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def fleet_setups(text: str) -> list[tuple[int, int]]:
    from coderunner import bench_fleet

    try:
        return bench_fleet.parse_setups(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def jobs_per_second(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of jobs a second: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0 jobs a second: {text}")
    return value


def add_nats_url(command: argparse.ArgumentParser) -> None:
    command.add_argument("--nats-url", default=os.environ.get("NATS_URL", DEFAULT_NATS_URL),
                         help="the NATS server (default $NATS_URL or %(default)s)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="coderunner", description="Run the CodeRunner platform, run programs on it and "
        "look at it. `coderunner <command> --help` describes each command (README.md, A quick "
        "tour).")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole platform here, in the foreground")
    up.add_argument("--port", type=int, default=int(os.environ.get("EDGE_PORT", 8000)),
                    help="the edge's port on 127.0.0.1 (default $EDGE_PORT or %(default)s)")
    up.add_argument("--data-dir", default=os.environ.get("DATA_DIR", ".data"),
                    help="where NATS keeps its streams (default $DATA_DIR or %(default)s)")
    up.set_defaults(func=cmd_up)

    for role in ("edge", "dispatcher"):
        sub.add_parser(role, help=f"run the {role} alone").set_defaults(func=cmd_role)
    runner = sub.add_parser("runner", help="run the runner alone, or drain one")
    runner.add_argument("action", nargs="?", choices=["drain"], default=None,
                        help="drain: the runner RUNNER_ID takes no more jobs and lets its "
                             "running ones finish (then stop it)")
    runner.add_argument("runner_id", nargs="?", help="the runner to drain (its RUNNER_ID)")
    runner.add_argument("--wait", action="store_true", help="until no job runs there")
    add_nats_url(runner)
    runner.set_defaults(func=cmd_runner)

    janitor = sub.add_parser("janitor", help="run the janitor, or one sweep")
    janitor.add_argument("action", nargs="?", choices=["sweep"], default=None,
                         help="sweep: one sweep now, then exit (without it: run on a schedule)")
    janitor.add_argument("--dry-run", action="store_true", help="only say what would go")
    janitor.add_argument("--json", action="store_true", help="print the sweep's report as JSON")
    janitor.set_defaults(func=cmd_janitor)

    images = sub.add_parser("images", help="runtime images")
    images.add_argument("action", choices=["build", "export", "import"],
                        help="build: make the runtime images that are missing or out of date "
                             "(several minutes the first time): the default set of languages "
                             "(setting DEFAULT_LANGUAGES), or --all, or --language")
    images.add_argument("--language", action="append", help="only this language (repeatable)")
    images.add_argument("--all", action="store_true", help="every language of the catalog")
    images.add_argument("--file", help="export/import: the tar file to write or read (export "
                                       "the exact images on one host, import them on the others)")
    images.add_argument("--force", action="store_true", help="rebuild even if up to date")
    images.add_argument("--quiet", action="store_true", help="print only errors")
    images.set_defaults(func=cmd_images)

    stats = sub.add_parser(
        "stats", help="queue, runners, pools, sessions and reuse rate",
        description="The queue, the runners and their warm pools, and the installation's "
        "containers, in words within 80 columns; --json for the stable document.")
    stats.add_argument("--json", action="store_true", help="the stable JSON (docs/operations.md)")
    stats.add_argument("--watch", action="store_true", help="refresh every 2 s until Ctrl-C")
    add_nats_url(stats)
    stats.set_defaults(func=cmd_stats)
    engines = sub.add_parser(
        "engines", help="extra Docker engines on this machine (fault tests, several runners)")
    engines.add_argument("action", choices=["up", "down", "restart", "list"],
                         help="start, stop, restart or list extra Docker engines")
    engines.add_argument("names", nargs="*", help="engine names (default e1)")
    engines.add_argument("--index", type=int, help="1-254: the bridge is 10.231.<index>.1/24")
    engines.add_argument("--language", action="append",
                         help="up: load this runtime's image (repeatable; default python, bash)")
    engines.add_argument("--purge", action="store_true", help="down: delete data and images too")
    engines.set_defaults(func=cmd_engines)

    runtimes = sub.add_parser("runtimes", help="list the languages this installation runs")
    runtimes.add_argument("--url", default=os.environ.get("CODERUNNER_URL", DEFAULT_URL),
                          help="the platform (default $CODERUNNER_URL or %(default)s)")
    runtimes.add_argument("--json", action="store_true", help="print the API's JSON")
    runtimes.set_defaults(func=cmd_runtimes)

    bench = sub.add_parser("bench", help="measure latency and throughput beside the baselines")
    bench.add_argument("--quick", action="store_true", help="fewer samples, shorter runs")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument("--language", action="append", metavar="NAME",
                       help="only the hello world lines of this language (repeatable), on a "
                            "platform serving only those")
    bench.add_argument("--judge", action="store_true",
                       help="a judgement of 100 a+b tests in C++ beside 100 executions")
    bench.add_argument("--start", action="store_true",
                       help="how soon a platform that just started runs a hello and fills its "
                            "pools, its pool creations taking turns beside all at once")
    bench.add_argument("--fairness", action="store_true",
                       help="one owner queues 300 long jobs: how soon another owner's hello "
                            "runs once a slot frees")
    bench.add_argument("--load", action="store_true",
                       help="instead: 50 running + 200 queued held, the next refused, all done")
    bench.add_argument("--soak", type=positive, nargs="?", const=5000, metavar="N",
                       help="instead: N executions (5000) over every way in, each completed "
                            "exactly once, memory flat")
    bench.add_argument("--idle-sockets", type=positive, nargs="?", const=1000, metavar="N",
                       help="instead: N idle browser sockets (1000) on one edge, 100 of them "
                            "running hello world")
    bench.add_argument("--hosts", type=positive, nargs="?", const=200, metavar="N",
                       help="instead: N short Python jobs (200) over the HTTP API with 1, 2 "
                            "and 3 runner hosts (extra Docker engines; needs root), with CPU use")
    bench.add_argument("--fleet", type=positive, nargs="?", const=200, metavar="N",
                       help="the real dispatcher(s) on a real nats-server (single, then a "
                            "three-node cluster) against N simulated runners (200): throughput, "
                            "placement latency, and every job accounted for (no Docker)")
    bench.add_argument("--fleet-setups", type=fleet_setups, metavar="NATS:DISPATCHERS,...",
                       help="with --fleet: only these set-ups, in this order (default "
                            "1:1,1:2,3:2: one server with one then two dispatchers, then a "
                            "three-node cluster with two)")
    bench.add_argument("--fleet-rate", type=jobs_per_second, metavar="JOBS_PER_S",
                       help="with --fleet: the load phase's jobs a second (default 70 %% of "
                            "the throughput just measured, which varies from run to run: give "
                            "one rate to compare two trees)")
    bench.set_defaults(func=cmd_bench)

    run = sub.add_parser(
        "run", help="run a program file and print its output",
        description="Run FILE (and more files of the same program) on the platform, print "
                    "its output as it comes and exit with the program's exit code. Ctrl-C "
                    "stops the run on the platform. Input: --stdin FILE, or what is piped in.")
    run.add_argument("file", help="the main file; its extension names the language")
    run.add_argument("extra", nargs="*", help="more files of the program")
    run.add_argument("--language", "-l", help="the language (see `coderunner runtimes`), when "
                     "the extension does not say it")
    run.add_argument("--arg", dest="args", action="append", default=[],
                     help="an argument for the program (repeatable)")
    run.add_argument("--stdin", metavar="FILE", help="the program's input, from FILE")
    run.add_argument("--timeout", type=seconds, metavar="SECONDS",
                     help="the wall-clock limit of each step (compile, run), clamped to the "
                          "platform's maximum")
    run.add_argument("--memory", type=megabytes, metavar="MB",
                     help="the memory limit in MB, clamped to the platform's maximum")
    run.add_argument("--url", default=os.environ.get("CODERUNNER_URL", DEFAULT_URL),
                     help="the platform (default $CODERUNNER_URL or %(default)s)")
    run.set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        code = args.func(args)
    except BrokenPipeError:
        # What reads the output went away (`coderunner stats | head`): stop quietly, and send
        # what is still buffered for stdout to /dev/null so that the exit's flush does not fail.
        with contextlib.suppress(OSError, ValueError):
            stdout = sys.stdout.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout)
            os.close(devnull)
        code = EXIT_BROKEN_PIPE
    except (urllib.error.URLError, ConnectionError) as exc:
        url = getattr(args, "url", DEFAULT_URL)
        print(f"coderunner: cannot reach the platform at {url} ({exc}); is `make up` running?",
              file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
