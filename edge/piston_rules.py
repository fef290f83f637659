"""Piston v2's rules as pure functions: version selectors (SemVer ranges), request checks with
Piston's messages, and a run's stages from our result."""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass

import msgspec

from contracts import piston as p
from contracts.api import ExecutionResult
from contracts.messages import Limits, SourceFile
from contracts.runtimes import Runtime
from edge.judge0_rules import signal_number

Version = tuple[int, int, int]
PARTIAL = re.compile(r"^v?(\d+|[xX*])?(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$")
COMPARATOR = re.compile(r"^(>=|<=|>|<|=|\^|~>?)?\s*(.*)$")
TOP = 1 << 30


class Refused(ValueError):
    """A request Piston answers 400 ``{message}``."""


# --- versions -------------------------------------------------------------------------------------


def coerce(raw: str) -> Version | None:
    """A runner's version string as SemVer (``5.2.15(1)-release`` → 5.2.15), or None."""
    found = re.match(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", raw.strip())
    if not found:
        return None
    major, minor, patch = (int(part or 0) for part in found.groups())
    return major, minor, patch


def shown(version: Version) -> str:
    return ".".join(map(str, version))


def _partial(text: str) -> tuple[int | None, int | None, int | None]:
    found = PARTIAL.match(text.strip())
    if not found:
        raise Refused(f"invalid version selector {text!r}")
    parts = [None if part is None or part in "xX*" else int(part) for part in found.groups()]
    for i in range(1, 3):  # nothing is known after a wildcard
        if parts[i - 1] is None:
            parts[i] = None
    return parts[0], parts[1], parts[2]


def _past(major: int, minor: int | None, patch: int | None) -> Version:
    """The first version past every one the partial version names."""
    if minor is None:
        return major + 1, 0, 0
    if patch is None:
        return major, minor + 1, 0
    return major, minor, patch + 1


def _bounds(op: str, text: str) -> tuple[Version, Version]:
    """The interval [low, high) one comparator allows."""
    major, minor, patch = _partial(text)
    low = (major or 0, minor or 0, patch or 0)
    if major is None:
        return (0, 0, 0), (TOP, 0, 0)
    exact_high = _past(major, minor, patch)
    match op:
        case "" | "=":
            return low, exact_high
        case ">=":
            return low, (TOP, 0, 0)
        case ">":
            return exact_high, (TOP, 0, 0)
        case "<":
            return (0, 0, 0), low
        case "<=":
            return (0, 0, 0), exact_high
        case "^":  # the left-most non-zero part stays
            if major > 0 or minor is None:
                return low, (major + 1, 0, 0)
            return low, _past(0, minor, None if minor > 0 else patch)
        case _:  # ~ and ~>
            return low, (major + 1, 0, 0) if minor is None else (major, minor + 1, 0)


def satisfies(version: Version, selector: str) -> bool:
    """SemVer's range grammar as Piston's ``semver.satisfies``: ``*``, ``3``, ``3.10.x``,
    ``^3.8``, ``~1.2``, ``>=3.8 <4``, ``1.2.3 - 2.0``, alternatives with ``||``."""
    for alternative in selector.split("||"):
        text = re.sub(r"(>=|<=|>|<|=|\^|~>?)\s+", r"\1", alternative.strip())
        if " - " in text:
            first, last = (part.strip() for part in text.split(" - ", 1))
            text = f">={first} <={last}"
        if all(_within(version, word) for word in text.split() or ["*"]):
            return True
    return False


def _within(version: Version, word: str) -> bool:
    found = COMPARATOR.match(word)
    assert found is not None  # the pattern matches every string
    low, high = _bounds(found.group(1) or "", found.group(2))
    return low <= version < high


# --- requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A valid execute request: what to run."""

    runtime: Runtime
    version: str
    files: list[SourceFile]
    stdin: str
    args: list[str]
    limits: Limits


PISTON_ALIASES: dict[str, tuple[str, ...]] = {
    "python": ("py3", "python3.10"), "javascript": ("node-javascript", "node-js"),
    "typescript": ("node-ts", "tsc"), "ruby": ("ruby3",), "cpp": ("c++",), "c": ("gcc",),
}
"""Names Piston's packages answer to that our catalog does not have."""


def names(runtime: Runtime) -> list[str]:
    """What ``language`` may say for a runtime: its name, aliases and Piston's names."""
    every = [runtime.name, *runtime.aliases, *PISTON_ALIASES.get(runtime.name, ())]
    return list(dict.fromkeys(every))


def choose(runtimes: list[tuple[Runtime, str]], language: str, selector: str
           ) -> tuple[Runtime, str] | None:
    """The newest runtime named ``language`` (or an alias) whose version matches."""
    wanted = language.lower()
    found = [(coerce(version), runtime) for runtime, version in runtimes
             if wanted in names(runtime)]
    matching = [(version, runtime) for version, runtime in found
                if version is not None and satisfies(version, selector)]
    if not matching:
        return None
    version, runtime = max(matching, key=lambda pair: pair[0])
    return runtime, shown(version)


def content_of(index: int, file: p.File) -> str:
    if not isinstance(file.content, str):
        raise Refused(f"files[{index}].content is required as a string")
    try:
        match file.encoding:
            case None | "utf8":
                return file.content
            case "base64":
                raw = base64.b64decode(file.content, validate=True)
            case "hex":
                raw = bytes.fromhex(file.content)
            case other:
                raise Refused(f"files[{index}].encoding {other!r} is not utf8, base64 or hex")
        return raw.decode()
    except (binascii.Error, ValueError) as exc:
        if isinstance(exc, Refused):
            raise
        raise Refused(f"files[{index}] cannot be decoded as {file.encoding} UTF-8 text"
                      ) from None


def files_of(raw: object, runtime: Runtime) -> list[SourceFile]:
    """The files, the first being the main one (named for its language when its name is not)."""
    if not isinstance(raw, list):
        raise Refused("files is required as an array")
    files = [p.File(entry.get("name"), entry.get("content"), entry.get("encoding"))
             if isinstance(entry, dict) else p.File() for entry in raw]
    if not files:
        raise Refused("files must include at least one utf8 encoded file")
    contents = [content_of(i, file) for i, file in enumerate(files)]
    if not any(file.encoding in (None, "utf8") for file in files):
        raise Refused("files must include at least one utf8 encoded file")
    names = [file.name if isinstance(file.name, str) and file.name else f"file{i}.code"
             for i, file in enumerate(files)]
    if not names[0].endswith(runtime.extension):
        names[0] = ("Main" if runtime.name == "java" else "main") + runtime.extension
    return [SourceFile(name, content) for name, content in zip(names, contents, strict=True)]


def limit(request: p.ExecuteRequest, name: str, configured: int) -> int | None:
    """A limit as Piston checks it: absent or 0 is unset; a number at most ``configured``."""
    value = getattr(request, name)
    if not value:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Refused(f"If specified, {name} must be a number")
    if value < 0 and name.endswith("memory_limit"):
        return None  # -1: no limit of the caller's (ours applies)
    if value > configured:
        raise Refused(f"{name} cannot exceed the configured limit of {configured}")
    if value < 0:
        raise Refused(f"{name} must be non-negative")
    return math.ceil(value)


def run_of(request: p.ExecuteRequest, runtimes: list[tuple[Runtime, str]]) -> Run:
    """Check a request as Piston's ``get_job`` does; raises Refused."""
    if not isinstance(request.language, str) or not request.language:
        raise Refused("language is required as a string")
    if not isinstance(request.version, str) or not request.version:
        raise Refused("version is required as a string")
    if not isinstance(request.files, list):
        raise Refused("files is required as an array")
    chosen = choose(runtimes, request.language, request.version)
    if chosen is None:
        raise Refused(f"{request.language}-{request.version} runtime is unknown")
    runtime, version = chosen
    files = files_of(request.files, runtime)
    defaults = runtime.limits
    memory_bytes = defaults.memory_mb * 1024 * 1024
    compile_wall = limit(request, "compile_timeout", defaults.wall_ms)
    compile_cpu = limit(request, "compile_cpu_time", defaults.cpu_ms)
    compile_memory = limit(request, "compile_memory_limit", memory_bytes)
    wall = limit(request, "run_timeout", defaults.wall_ms)
    cpu = limit(request, "run_cpu_time", defaults.cpu_ms)
    memory = limit(request, "run_memory_limit", memory_bytes)
    args = request.args if request.args is not None else []
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise Refused("args must be an array of strings")
    stdin = request.stdin if request.stdin is not None else ""
    if not isinstance(stdin, str):
        raise Refused("stdin must be a string")
    # The compile step's memory is its processes' address space, as Piston's prlimit --as;
    # the run's is the sandbox's memory limit (stricter: it holds for all processes at once).
    limits = Limits(wall_ms=wall, cpu_ms=cpu,
                    memory_mb=max(16, math.ceil(memory / 1048576)) if memory else None,
                    compile_wall_ms=compile_wall, compile_cpu_ms=compile_cpu,
                    compile_process_memory_kb=math.ceil(compile_memory / 1024)
                    if compile_memory else None)
    return Run(runtime, version, files, stdin, list(args), limits)


# --- results --------------------------------------------------------------------------------------


def stage_status(result: ExecutionResult) -> tuple[p.StageStatus | None, str | None]:
    """Piston's status and signal for a finished stage."""
    match result.verdict:
        case "ok":
            return None, None
        case "time_limit":
            return "TO", "SIGKILL"
        case "output_limit":
            return "OL", "SIGKILL"
        case "memory_limit":
            return "SG", "SIGKILL"
        case "runtime_error" | "compile_error" if result.signal:
            return "SG", result.signal
        case "runtime_error" | "compile_error":
            return "RE", None
        case _:
            return "XX", None


def stage(result: ExecutionResult) -> p.Stage:
    status, signal = stage_status(result)
    out, err = result.stdout or "", result.stderr or ""
    message = None if status is None else stage_message(result)
    return p.Stage(stdout=out, stderr=err, output=out + err,
                   code=None if signal else result.exit_code, signal=signal,
                   message=message, status=status, cpu_time=result.cpu_ms,
                   wall_time=result.wall_ms,
                   memory=None if result.memory_kb is None else result.memory_kb * 1024)


def stage_message(result: ExecutionResult) -> str:
    """isolate's words, as Piston passes them on."""
    match result.verdict:
        case "time_limit":
            return "Time limit exceeded"
        case "output_limit":
            return "Output limit exceeded"
        case "memory_limit":
            return "Memory limit exceeded"
        case "runtime_error" | "compile_error" if result.signal:
            return f"Caught fatal signal {signal_number(result.signal)}"
        case "runtime_error" | "compile_error":
            return f"Exited with error status {result.exit_code}"
        case verdict:
            return result.message or str(verdict)


def empty_stage() -> p.Stage:
    return p.Stage("", "", "", 0, None, None, None, None, None, None)


def split_stages(result: ExecutionResult, at: tuple[int, int] | None
                 ) -> tuple[p.Stage, p.Stage]:
    """compile and run of a compiled program whose output turned into the program's at
    ``at`` (characters of stdout and stderr); None: the run step never started, so the compile
    step failed (an error, or its own limit): that is both, as Piston copies it."""
    if at is None:
        failed = stage(result)
        return failed, failed
    out, err = result.stdout or "", result.stderr or ""
    compile_out, compile_err = out[:at[0]], err[:at[1]]
    compiled = p.Stage(compile_out, compile_err, compile_out + compile_err, 0, None, None,
                       None, None, None, None)
    ran = msgspec.structs.replace(result, stdout=out[at[0]:], stderr=err[at[1]:])
    return compiled, stage(ran)


def stages(result: ExecutionResult, compiled: bool) -> tuple[p.Stage | None, p.Stage]:
    """compile and run: a failed compile is both (Piston copies it into ``run``)."""
    if not compiled:
        return None, stage(result)
    if result.verdict == "compile_error":
        failed = stage(result)
        return failed, failed
    return empty_stage(), stage(result)
