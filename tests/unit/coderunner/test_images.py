"""An image's version labels: an empty answer of a version command (Docker 20.10 may answer a
short-lived container's logs before its last, newline-less line is copied) is asked again and
never becomes the label; an image labelled ``unknown`` is built again. A toolchain may build on
another's layers."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from coderunner.images import (
    IMAGES_DIR,
    VERSION_ATTEMPTS,
    ImageBuilder,
    ImageBuildError,
    ImagePlan,
    parent_toolchain,
)
from contracts import labels
from contracts.runtimes import Runtime

PERL = Runtime(name="perl", display_name="Perl 5", extension=".pl", image="perl",
               run=["perl", "{main}"], version_command=["perl", "-e", "print substr($^V, 1)"])


class Answers:
    """``client.containers.run`` answering from a list; ``client.images.get`` with labels."""

    def __init__(self, answers: list[bytes], image_labels: dict[str, str] | None = None) -> None:
        self.answers, self.asked, self.image_labels = answers, 0, image_labels or {}
        self.containers, self.images = self, self

    def run(self, *args: Any, **kwargs: Any) -> bytes:
        self.asked += 1
        self.command = args[1]
        return self.answers.pop(0)

    def get(self, tag: str) -> Any:
        return type("Image", (), {"labels": self.image_labels})()


def builder(client: Answers) -> ImageBuilder:
    return ImageBuilder(client, lambda name, line: None)  # type: ignore[arg-type]


def test_an_empty_answer_is_asked_again() -> None:
    client = Answers([b"", b"", b"5.36.0"])
    assert builder(client).read_version("coderunner/perl-toolchain", PERL) == "5.36.0"
    assert client.asked == 3


def test_the_version_is_asked_for_as_a_whole_line() -> None:
    """Perl prints its version without a newline, which Docker's logs may not have yet."""
    client = Answers([b"5.40.1\n"])
    assert builder(client).read_version("coderunner/perl-toolchain", PERL) == "5.40.1"
    assert client.command[-3:] == PERL.version_command
    wrapper = client.command[:-3]  # run here with other commands: a newline, the exit status
    assert subprocess.run([*wrapper, "printf", "5.40.1"], capture_output=True, text=True,
                          check=True).stdout == "5.40.1\n"
    assert subprocess.run([*wrapper, "false"], check=False).returncode == 1


def test_a_version_command_that_never_answers_fails_the_build() -> None:
    client = Answers([b""] * VERSION_ATTEMPTS)
    with pytest.raises(ImageBuildError, match="printed nothing"):
        builder(client).read_version("coderunner/perl-toolchain", PERL)


@pytest.mark.parametrize(("version", "rebuilt"), [("unknown", True), ("5.36.0", False)])
def test_an_image_labelled_unknown_is_built_again(version: str, rebuilt: bool) -> None:
    client = Answers([], {f"{labels.VERSION}perl": version})
    assert builder(client).lacks_a_version(ImagePlan("perl", (PERL,))) is rebuilt


@pytest.mark.parametrize(("first_from", "parent"), [
    ("FROM coderunner/gcc-toolchain", "gcc"),
    ("from coderunner/gcc-toolchain AS build", "gcc"),
    ("FROM coderunner/runtime-base", None),
    ("FROM debian:trixie-slim", None),
])
def test_a_toolchain_builds_on_the_toolchain_its_dockerfile_names(
    tmp_path: Path, first_from: str, parent: str | None,
) -> None:
    (tmp_path / "Dockerfile").write_text(f"# a comment\n{first_from}\nRUN true\n")
    assert parent_toolchain(tmp_path) == parent


def test_the_native_compilers_share_the_gcc_images_layers() -> None:
    assert parent_toolchain(IMAGES_DIR / "native") == "gcc"
    assert parent_toolchain(IMAGES_DIR / "gcc") is None
