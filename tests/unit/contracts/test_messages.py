from __future__ import annotations

import msgspec
import pytest

from contracts.messages import (
    CompletionEvent,
    ExecuteCode,
    SourceFile,
    StdinInput,
    StopExecution,
    client_frame_decoder,
    encode,
    file_name_problem,
    program_problem,
)

HELLO = (
    '{"type":"execute_code","requestId":"r1","language":"python",'
    '"files":[{"name":"main.py","content":"print(1)"}],"mainFile":"main.py"}'
)


def test_execute_code_frame_decodes_with_camel_case_fields() -> None:
    frame = client_frame_decoder.decode(HELLO)
    assert isinstance(frame, ExecuteCode)
    assert frame.request_id == "r1"
    assert frame.main_file == "main.py"
    assert frame.files == [SourceFile("main.py", "print(1)")]


def test_stdin_and_stop_frames_decode() -> None:
    stdin = client_frame_decoder.decode('{"type":"stdin","executionId":"e1","data":"x\\n"}')
    eof = client_frame_decoder.decode('{"type":"stdin","executionId":"e1","eof":true}')
    stop = client_frame_decoder.decode('{"type":"stop","executionId":"e1"}')
    assert stdin == StdinInput("e1", "x\n")
    assert eof == StdinInput("e1", eof=True)
    assert stop == StopExecution("e1")


@pytest.mark.parametrize(
    ("frame", "complaint"),
    [
        ("not json", "malformed"),
        ('{"type":"launch_missiles"}', "Invalid value 'launch_missiles'"),
        ('{"type":"execute_code","language":"python","files":[],"mainFile":"a"}',
         "at least one file"),
        ('{"type":"execute_code","language":"python","mainFile":"a.py"}', "at least one file"),
        ('{"type":"execute_code","files":[],"mainFile":"a.py"}', "missing required"),
        (HELLO.replace('"mainFile"', '"bogus":1,"mainFile"'), "unknown field"),
        ('{"type":"stop","executionId":"has space"}', "matching regex"),
    ],
)
def test_bad_frames_are_refused_with_the_reason(frame: str, complaint: str) -> None:
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)) as info:
        client_frame_decoder.decode(frame)
    assert complaint.lower() in str(info.value).lower()


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "/abs.py", "a/../../b", "nul\x00.py", "a//b", "./x", "tab\t.py",
             "back\\slash"],
)
def test_dangerous_file_names_are_refused(name: str) -> None:
    assert file_name_problem(name) is not None


@pytest.mark.parametrize("name", ["main.py", "pkg/mod.py", "data/in put.txt", "Ünï.py"])
def test_ordinary_file_names_pass(name: str) -> None:
    assert file_name_problem(name) is None


def test_program_needs_its_main_file_among_the_files() -> None:
    files = [SourceFile("a.py", "")]
    assert program_problem(files, "a.py") is None
    assert "not among the files" in (program_problem(files, "b.py") or "")


def test_program_refuses_duplicates_and_file_folder_clashes() -> None:
    twice = [SourceFile("a.py", ""), SourceFile("a.py", "")]
    clash = [SourceFile("a", ""), SourceFile("a/b.py", "")]
    assert "twice" in (program_problem(twice, "a.py") or "")
    assert "both a file and a folder" in (program_problem(clash, "a/b.py") or "")


def test_completion_encodes_camel_case_and_omits_unset_fields() -> None:
    event = CompletionEvent("e1", "ok", exit_code=0, wall_ms=12)
    data = msgspec.json.decode(encode(event))
    assert data["type"] == "completion"
    assert data["executionId"] == "e1"
    assert data["exitCode"] == 0
    assert data["wallMs"] == 12
    assert "requestId" not in data
