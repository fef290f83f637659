"""The CLI's promises that need no platform: every option says what it does, and the run
options become the limits and input the platform receives."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from coderunner.cli import columns, parser


def every_action(p: argparse.ArgumentParser, path: str = "coderunner"
                 ) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += every_action(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((path, action))
    return found


def test_every_option_of_every_command_has_help_text() -> None:
    silent = [f"{path} {action.option_strings or action.dest}"
              for path, action in every_action(parser()) if not action.help]
    assert silent == []


def test_the_run_options_parse_into_seconds_megabytes_and_a_file() -> None:
    args = parser().parse_args(["run", "main.py", "--timeout", "2.5", "--memory", "64",
                                "--stdin", "in.txt", "--language", "python"])
    assert (args.timeout, args.memory, args.stdin, args.language) == (2.5, 64, "in.txt",
                                                                      "python")


@pytest.mark.parametrize(("option", "value"), [("--timeout", "0"), ("--timeout", "soon"),
                                                ("--memory", "8"), ("--memory", "1.5")])
def test_a_bad_limit_is_refused_by_the_parser(option: str, value: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        parser().parse_args(["run", "main.py", option, value])
    assert refused.value.code == 2
    assert option in capsys.readouterr().err


def test_the_program_frame_carries_the_limits_and_the_input(tmp_path: Path) -> None:
    from coderunner.client import Program
    from contracts.messages import Limits

    main = tmp_path / "main.py"
    main.write_text("print(input())\n")
    frame = Program(main, "python", stdin="hi\n", limits=Limits(wall_ms=2500, memory_mb=64)
                    ).frame()
    assert (frame.stdin, frame.limits, frame.main_file) == (
        "hi\n", Limits(wall_ms=2500, memory_mb=64), "main.py")


def test_runtimes_columns_stay_aligned_whatever_a_version_is() -> None:
    lines = columns([("LANGUAGE", "VERSION", "FILE", "ALIASES"),
                     ("bash", "5.2.37(1)-release-with-a-long-tail", ".sh", "sh, shell"),
                     ("c", "14.2.0", ".c", "gcc")])
    starts = {line.index(ext) for line, ext in zip(lines[1:], (".sh", ".c"), strict=True)}
    assert starts == {lines[0].index("FILE")}
    assert lines[2].endswith("gcc") and not lines[2].endswith(" ")


def test_the_fleet_bench_takes_its_set_ups_and_a_rate() -> None:
    args = parser().parse_args(["bench", "--fleet", "50", "--fleet-setups", "1:2, 3:2",
                                "--fleet-rate", "700"])
    assert (args.fleet, args.fleet_setups, args.fleet_rate) == (50, [(1, 2), (3, 2)], 700.0)
    args = parser().parse_args(["bench", "--fleet"])
    assert (args.fleet, args.fleet_setups, args.fleet_rate) == (200, None, None)


@pytest.mark.parametrize(("option", "value", "said"), [
    ("--fleet-setups", "2:2", "'2:2' is not NATS:DISPATCHERS"),
    ("--fleet-setups", "1:0", "'1:0' is not NATS:DISPATCHERS"),
    ("--fleet-setups", "1", "'1' is not NATS:DISPATCHERS"),
    ("--fleet-setups", "1:2,", "'' is not NATS:DISPATCHERS"),
    ("--fleet-rate", "0", "must be above 0 jobs a second"),
    ("--fleet-rate", "nan", "must be above 0 jobs a second"),
    ("--fleet-rate", "fast", "not a number of jobs a second"),
])
def test_a_bad_fleet_set_up_or_rate_is_refused_saying_why(
        option: str, value: str, said: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        parser().parse_args(["bench", "--fleet", option, value])
    assert refused.value.code == 2
    assert said in capsys.readouterr().err


def test_the_fleet_options_without_the_fleet_bench_are_refused() -> None:
    from coderunner.cli import cmd_bench

    with pytest.raises(SystemExit) as refused:
        cmd_bench(parser().parse_args(["bench", "--fleet-rate", "700"]))
    assert refused.value.code == "coderunner bench: --fleet-setups and --fleet-rate go with --fleet"


def test_a_reader_that_goes_away_stops_a_command_quietly(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`coderunner stats | head`: BrokenPipeError is a ConnectionError, once reported as "cannot
    reach the platform"."""
    from coderunner import cli

    def writes_to_a_closed_pipe(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "parser", lambda: FixedParser(writes_to_a_closed_pipe))
    with pytest.raises(SystemExit) as stopped:
        cli.main([])
    assert stopped.value.code == cli.EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_stats_does_not_call_a_closed_pipe_an_unreachable_nats(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from coderunner import stats

    def show(nats_url: str, as_json: bool, watch: bool) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(stats, "show", show)
    with pytest.raises(BrokenPipeError):
        stats.main("nats://127.0.0.1:4222", as_json=False, watch=False)


class FixedParser:
    def __init__(self, func: object) -> None:
        self.func = func

    def parse_args(self, argv: list[str] | None) -> argparse.Namespace:
        return argparse.Namespace(func=self.func)
