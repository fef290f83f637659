"""One intake: what each door's jobs get (priority, reuse, stdin, network) is decided once."""

from __future__ import annotations

import pytest

from contracts.api import ExecutionRequest
from contracts.messages import ExecuteCode, SourceFile
from contracts.runtimes import Catalog, Runtime
from contracts.subjects import PRIORITY_API, PRIORITY_BACKGROUND, PRIORITY_WEBSOCKET
from edge.intake import FromApi, FromSocket, NotRunnable, cell_job, program_job

CATALOG = Catalog([Runtime(name="python", display_name="Python", extension=".py",
                           image="python", run=["python3", "{main}"], aliases=["py"])])
SERVER = [SourceFile("main.py", "import socket\nprint(1)")]


def frame(files: list[SourceFile] = SERVER, **fields: object) -> ExecuteCode:
    base: dict[str, object] = {"language": "py", "files": files, "main_file": "main.py",
                               "request_id": "r1", "stdin": "x"}
    return ExecuteCode(**{**base, **fields})  # type: ignore[arg-type]


def spec(**fields: object) -> ExecutionRequest:
    base: dict[str, object] = {"language": "py", "files": SERVER, "main_file": "main.py"}
    return ExecutionRequest(**{**base, **fields})  # type: ignore[arg-type]


def test_a_socket_program_keeps_its_tabs_container_stdin_and_guessed_network() -> None:
    job = program_job(FromSocket(frame(), "session:s"), CATALOG, "e1", now=5.0)
    assert (job.execution_id, job.owner, job.priority, job.submitted_at) == \
        ("e1", "session:s", PRIORITY_WEBSOCKET, 5.0)
    assert (job.language, job.reuse_key, job.interactive, job.network, job.keep_output) == \
        ("python", "main.py", True, True, True)
    assert (job.request_id, job.stdin, job.isolation, job.webhook) == ("r1", "x", "runc", False)
    quiet = [SourceFile("main.py", "print(1)")]
    assert not program_job(FromSocket(frame(quiet), "session:s"), CATALOG, "e2").network
    assert not program_job(FromSocket(frame(network=False), "session:s"), CATALOG, "e3").network
    assert program_job(FromSocket(frame(quiet, network=True), "session:s"), CATALOG,
                       "e4").network


def test_an_api_program_reuses_the_keys_container_without_network() -> None:
    job = program_job(FromApi(spec(callback_url="https://example.org/hook"), "key:k", "gvisor"),
                      CATALOG, "e1")
    assert (job.priority, job.reuse_key, job.interactive, job.network) == \
        (PRIORITY_API, "api:python", False, False)
    assert (job.webhook, job.isolation, job.keep_output, job.compile_options) == \
        (True, "gvisor", True, [])
    piston = program_job(FromApi(spec(background=True), "key:k", "runc", interactive=True,
                                 compile_options=("-O2",)), CATALOG, "e2")
    assert (piston.priority, piston.interactive, piston.webhook, piston.compile_options) == \
        (PRIORITY_BACKGROUND, True, False, ["-O2"])


@pytest.mark.parametrize(("request_", "code"), [
    (FromApi(spec(language="cobol"), "key:k", "runc"), "unknown_language"),
    (FromSocket(frame(main_file="other.py"), "session:s"), "invalid_request"),
])
def test_a_program_that_cannot_run_is_refused_with_its_code(
        request_: FromSocket | FromApi, code: str) -> None:
    with pytest.raises(NotRunnable) as refused:
        program_job(request_, CATALOG, "e1")
    assert refused.value.code == code


def test_a_cell_waits_at_priority_0_with_its_output_kept() -> None:
    job = cell_job("key:k", "nb", "c1", "x = 1", "bash", execution_id="e1", isolation="gvisor")
    assert (job.priority, job.keep_output, job.isolation, job.runtime, job.kernel) == \
        (PRIORITY_BACKGROUND, True, "gvisor", "python", "bash")
