"""The runner↔agent protocol as types: every request the runner sends a sandbox's agent and
every event the agent sends back (runners/agent/agent.py holds the same protocol in prose).

JSON lines over the container's attach stream: requests are tagged by ``op``, events by
``ev``. The agent is standard-library Python inside the sandbox image and builds plain dicts;
this module is the runner's side, and a test decodes everything the real agent emits into
these types (tests/integration/test_agent_protocol.py), so the two cannot drift apart.

The agent's stdout carries only what the agent writes (user code runs as another uid and cannot
reach it), yet a sandbox is never trusted: each line is decoded once, with bounds (its size,
each field's type and range), and a line that is none of these events is a ``BadAgentMessage``,
never a crash. The payload of ``FromKernel`` is what the notebook's kernel bridge printed: it
runs as the sandbox user, so runners/notebooks.py checks every field of it before use.

Schema rules (as for contracts/messages.py): a new field has a default; a field never changes
its type; a tag is never reused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

MAX_EVENT_BYTES = 8 * 1024 * 1024
"""The longest line the runner reads from an agent; a longer one is a ``BadAgentMessage``."""

Count = Annotated[int, Meta(ge=0)]
SignalName = Annotated[str, Meta(max_length=16)]
Phase = Literal["compile", "run"]


class BadAgentMessage(ValueError):
    """The agent sent a line that is none of its events, or one longer than the bound."""


# --- requests: runner → agent ------------------------------------------------------------------


class _Request(Struct, frozen=True, tag_field="op", rename="camel", omit_defaults=True):
    pass


class SourceFile(Struct, frozen=True):
    name: str
    content: str


class StepSpec(Struct, frozen=True, omit_defaults=True, rename="camel"):
    """One process of a run: a compile step (``server``: try the warm compile server first)
    or the run step (``zygote``: fork it from the warm interpreter; ``tables``: read result
    sets from the fd named by ``CODERUNNER_TABLES_FD``).

    Its own limits, each 0 for the default: ``wall_ms`` and ``cpu_ms`` (else the run's
    ``StepLimits``), and kernel limits the step's process sets on itself before it execs
    (``setrlimit``; else the sandbox's own): ``stack_bytes`` (RLIMIT_STACK),
    ``file_size_bytes`` (RLIMIT_FSIZE: a write past it is SIGXFSZ), ``address_space_bytes``
    (RLIMIT_AS of each process)."""

    phase: Phase
    argv: list[str]
    server: bool = False
    zygote: bool = False
    tables: bool = False
    wall_ms: int = 0
    cpu_ms: int = 0
    stack_bytes: int = 0
    file_size_bytes: int = 0
    address_space_bytes: int = 0


class StepLimits(Struct, frozen=True, rename="camel"):
    """What the agent enforces, per step (wall, CPU) and per run (output of all steps)."""

    wall_ms: int
    cpu_ms: int
    output_bytes: int


class Helper(Struct, frozen=True):
    """A warm process the agent keeps in the sandbox: its command line and environment."""

    argv: list[str]
    env: dict[str, str]


class Run(_Request, frozen=True, tag="run"):
    """Write ``files`` into the workspace and run ``steps`` in order; the first that fails, or
    the last, is reported with ``Done``."""

    files: list[SourceFile]
    steps: list[StepSpec]
    env: dict[str, str]
    limits: StepLimits
    stdin: str = ""
    close_stdin: bool = True


class Prepare(_Request, frozen=True, tag="prepare"):
    """Start the runtime's warm helpers; answered with ``Prepared``."""

    zygote: Helper | None = None
    compile_server: Helper | None = None


class Stdin(_Request, frozen=True, tag="stdin"):
    """Input for the running program; acknowledged with ``StdinAck`` once it left the agent."""

    data: str


class Eof(_Request, frozen=True, tag="eof"):
    """Close the running program's stdin once what it was sent is written."""


class Stop(_Request, frozen=True, tag="stop"):
    """Kill the run now: it ends ``stopped``."""


class Reset(_Request, frozen=True, tag="reset"):
    """Put the sandbox back as it was fresh and check it; answered with ``ResetDone``."""


class Ping(_Request, frozen=True, tag="ping"):
    """Answered with ``Pong``."""


class StartKernel(_Request, frozen=True, tag="kernel"):
    """Start a notebook's kernel bridge (kernel_bridge.py); its lines come as ``FromKernel``.
    ``files`` are written into the workspace (the kernel's working directory) first, as a
    run's are, and again when the kernel restarts."""

    argv: list[str]
    env: dict[str, str]
    files: list[SourceFile] = []


class RestartKernel(_Request, frozen=True, tag="restart_kernel"):
    """Reset the sandbox and start the bridge again; the running cell ``id`` ends restarted."""

    id: str | None = None


class ToKernel(_Request, frozen=True, tag="to_kernel"):
    """A line for the kernel bridge (its own protocol: kernel_bridge.py)."""

    data: dict[str, Any]


class PutLayer(_Request, frozen=True, tag="put_layer"):
    """A package layer for a notebook's kernel (docs/packages.md, Notebooks), in pieces: the
    base64 ``data`` of a tar, gathered until ``last``; the agent unpacks it root-owned into a
    new directory on the sandbox's /tmp and answers ``LayerPut``. ``key`` is the layer's (hex):
    a key it already holds is not unpacked again."""

    key: str
    data: str
    last: bool = False


AgentRequest = (Run | Prepare | Stdin | Eof | Stop | Reset | Ping | StartKernel | RestartKernel
                | ToKernel | PutLayer)

# --- events: agent → runner --------------------------------------------------------------------


class _Event(Struct, frozen=True, tag_field="ev", rename="camel"):
    pass


class Ready(_Event, frozen=True, tag="ready"):
    """The agent started (as the container's PID 1)."""

    pid: Count = 0


class Prepared(_Event, frozen=True, tag="prepared"):
    """The answer to ``Prepare``: ``ok`` is false when the zygote did not come up."""

    ok: bool


class Output(_Event, frozen=True, tag="out"):
    """A chunk of a step's output (a compile step's is all ``stderr``)."""

    stream: Literal["stdout", "stderr"]
    data: str


class Table(_Event, frozen=True, tag="table"):
    """One result set from a step with ``tables``."""

    columns: list[str]
    rows: list[list[Any]]


class StdinAck(_Event, frozen=True, tag="stdin_ack"):
    """``size`` bytes of ``Stdin`` left the agent: written to the program, or dropped as its
    stdin is closed."""

    size: Count = field(name="bytes")


class StepStarted(_Event, frozen=True, tag="step"):
    """A step of a run of several (compile, then run) is starting."""

    phase: Phase


class Done(_Event, frozen=True, tag="done"):
    """The end of a run, reported for the step that ended it. ``phase`` ``setup``: the run
    could not start (a bad file name, a sandbox that holds a kernel), ``error`` says why. A
    step that could not be started reports ``error`` with ``exit_code`` 127. ``wall_ms`` is
    missing when no step ran: the runner then uses its own clock."""

    phase: Literal["setup", "compile", "run"]
    exit_code: int | None = None
    signal: SignalName | None = None
    wall_ms: Count | None = None
    cpu_ms: Count = 0
    memory_kb: Count = 0
    timed_out: bool = False
    output_exceeded: bool = False
    stopped: bool = False
    oom: bool = False
    error: str | None = None


class Pong(_Event, frozen=True, tag="pong"):
    """The answer to ``Ping``."""


class ResetDone(_Event, frozen=True, tag="reset"):
    """The answer to ``Reset`` (and to a failed ``RestartKernel``): not ``ok`` when the check
    found the sandbox unlike a fresh one, ``error`` saying how; such a sandbox is not reused."""

    ok: bool
    error: str | None = None


class FromKernel(_Event, frozen=True, tag="kernel"):
    """A line the kernel bridge printed, never trusted (the agent adds ``{"msg":"exited"}``
    when the bridge ends and ``{"msg":"dropped"}`` for a line too long)."""

    data: dict[str, Any]


class LayerPut(_Event, frozen=True, tag="layer"):
    """The answer to the last piece of ``PutLayer``: the directory the layer is in, or why
    it is not (``error``)."""

    ok: bool
    path: Annotated[str, Meta(max_length=256)] = ""
    error: str | None = None


AgentEvent = (Ready | Prepared | Output | Table | StdinAck | StepStarted | Done | Pong | ResetDone
              | FromKernel | LayerPut)

_decode = msgspec.json.Decoder(AgentEvent).decode
_encode = msgspec.json.Encoder().encode


def decode_event(line: bytes) -> AgentEvent:
    """One line of the agent's stdout as its event; ``BadAgentMessage`` for anything else."""
    if len(line) > MAX_EVENT_BYTES:
        raise BadAgentMessage(f"a line of {len(line)} bytes (at most {MAX_EVENT_BYTES})")
    try:
        return _decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:  # nesting too deep is RecursionError
        raise BadAgentMessage(f"not an agent event: {exc}") from None


def encode_request(request: AgentRequest) -> bytes:
    """A request as the line the agent reads."""
    return _encode(request) + b"\n"
