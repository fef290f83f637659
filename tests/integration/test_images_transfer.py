"""``coderunner images export`` / ``import`` move the exact images between Docker engines:
an image exported, removed, and imported again is back under its tag with its inputs hash
(the label placement matches on)."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from coderunner.images_transfer import export
from contracts import labels


@pytest.fixture
def test_image() -> Iterator[tuple[str, str]]:
    client = docker.from_env()
    tag = f"coderunner-test/images-transfer:{uuid.uuid4().hex[:8]}"
    inputs = uuid.uuid4().hex[:16]
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:  # one tiny layer: docker save needs one
        for name, data in (("Dockerfile", f"FROM scratch\nCOPY x /x\n"
                                          f"LABEL {labels.INPUTS}={inputs}\n".encode()),
                           ("x", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    try:
        yield tag, inputs
    finally:
        try:
            client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass
        client.close()


def coderunner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coderunner", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_an_exported_image_imports_with_its_tag_and_inputs_hash(
        test_image: tuple[str, str], tmp_path: Path) -> None:
    tag, inputs = test_image
    archive = tmp_path / "images.tar"
    export([tag], archive)
    client = docker.from_env()
    try:
        client.images.remove(tag)
        answer = coderunner("images", "import", "--file", str(archive))
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout == f"imported {tag} (inputs {inputs})\n"
        assert client.images.get(tag).labels[labels.INPUTS] == inputs
    finally:
        client.close()


def test_exporting_a_language_that_is_not_built_says_so(tmp_path: Path) -> None:
    answer = coderunner("images", "export", "--language", "nosuch", "--file",
                        str(tmp_path / "x.tar"))
    assert (answer.returncode, answer.stderr) == (
        1, "coderunner images export: unknown language 'nosuch'\n")
