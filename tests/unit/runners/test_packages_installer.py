"""The in-sandbox installer (runners/packages_installer.py), run here on temporary directories:
what it unpacks where, and what it refuses."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from coderunner.packages_index import tarball, wheel
from runners import packages_installer as installer


@pytest.fixture
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(installer, "LAYER", str(tmp_path / "layer"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    return tmp_path / "layer"


def raw_wheel(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_wheel_is_unpacked_with_purelib_at_the_root_and_scripts_left_out(layer: Path) -> None:
    name, data = wheel("tiny", "1.0", {"tiny/__init__.py": "x = 1\n"})
    extra = raw_wheel({"tiny-1.0.data/purelib/extra.py": "", "tiny-1.0.data/scripts/run": ""})
    installer.install_wheel(name, data)
    installer.install_wheel("extra.whl", extra)
    assert (layer / "tiny/__init__.py").read_text() == "x = 1\n"
    assert (layer / "extra.py").exists()
    assert not (layer / "tiny-1.0.data").exists() and not (layer / "run").exists()


@pytest.mark.parametrize("member", ["../escape.py", "/etc/escape.py", "a/../../escape.py"])
def test_a_wheel_member_that_leaves_the_layer_is_refused(layer: Path, member: str) -> None:
    with pytest.raises(SystemExit, match="leaves its directory"):
        installer.install_wheel("bad.whl", raw_wheel({member: "evil"}))
    assert not (layer.parent / "escape.py").exists()


def test_an_npm_tarball_goes_to_its_lock_path_and_its_scripts_run_there(layer: Path) -> None:
    manifest = {"name": "t", "version": "1.0.0", "scripts": {"postinstall": "echo ran > ran.txt"}}
    data = tarball({"package.json": json.dumps(manifest), "index.js": ""})
    Path("pkg/0.tgz").write_text(base64.b64encode(data).decode())
    installer.install_npm([{"path": "node_modules/t", "file": "0.tgz"}])
    assert (layer / "node_modules/t/index.js").exists()
    assert (layer / "node_modules/t/ran.txt").read_text() == "ran\n"


@pytest.mark.parametrize("path", ["node_modules/../../x", "x", "node_modules/a/../../b",
                                  "node_modules/..", "node_modules/@s/.."])
def test_a_lock_path_outside_node_modules_is_refused(layer: Path, path: str) -> None:
    with pytest.raises(SystemExit, match="refused"):
        installer.unpack_tarball(path, tarball({"index.js": ""}))


def test_the_layer_goes_out_without_symlinks(layer: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    (layer / "pkg").mkdir(parents=True)
    (layer / "pkg/a.py").write_text("a")
    os.symlink("/etc/passwd", layer / "pkg/passwd")
    installer.send_layer(str(layer))
    sent = base64.b64decode(capsys.readouterr().out)
    with tarfile.open(fileobj=io.BytesIO(sent)) as archive:
        assert sorted(archive.getnames()) == ["pkg", "pkg/a.py"]
