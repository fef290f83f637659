"""Zip uploads: files come out as written; bombs, links and escaping paths are refused."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from edge.workspace_zip import ZipProblem, read_zip, write_zip


def test_a_written_zip_reads_back() -> None:
    files = {"a.py": b"print(1)", "dir/b.bin": bytes(range(256))}
    assert read_zip(write_zip(files)) == files


def test_an_entry_that_inflates_past_the_file_limit_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb", b"\0" * 2_000_000)  # under the total limit: this entry's
    assert len(buffer.getvalue()) < 10_000
    with pytest.raises(ZipProblem) as refused:
        read_zip(buffer.getvalue())
    assert refused.value.too_large


@pytest.mark.parametrize("name", ["../x", "/abs", "a\\b", "a/./b"])
def test_escaping_paths_are_refused(name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(name), b"x")
    with pytest.raises(ZipProblem):
        read_zip(buffer.getvalue())


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFLNK, stat.S_IFCHR, stat.S_IFSOCK])
def test_entries_that_are_not_regular_files_are_refused(kind: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry = zipfile.ZipInfo("pipe")
        entry.external_attr = (kind | 0o644) << 16
        archive.writestr(entry, b"")
    with pytest.raises(ZipProblem, match="not a regular file"):
        read_zip(buffer.getvalue())
