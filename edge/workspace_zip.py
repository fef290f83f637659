"""Zip archives of a workspace: written from a revision's files, read from an upload within the
workspace limits (a zip bomb is refused by its entries' real sizes, not their declared ones)."""

from __future__ import annotations

import io
import zipfile

from contracts.workspaces import (
    WORKSPACE_MAX_FILE_BYTES,
    WORKSPACE_MAX_FILES,
    WORKSPACE_MAX_TOTAL_BYTES,
    path_problem,
)
from edge.zip_members import UnreadableMember, is_regular_file, read_member

MAX_ZIP_BYTES = 2 * WORKSPACE_MAX_TOTAL_BYTES
"""An upload's own size (compressed), before any entry is read."""


class ZipProblem(Exception):
    """The upload is not a zip this workspace can take; ``too_large`` for limits."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def write_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            archive.writestr(path, data)
    return buffer.getvalue()


def read_zip(data: bytes) -> dict[str, bytes]:
    """The files of an uploaded zip (folders skipped); raises ZipProblem for a bad archive, an
    escaping path, a link, or the limits."""
    if len(data) > MAX_ZIP_BYTES:
        raise ZipProblem(f"the zip is larger than {MAX_ZIP_BYTES} bytes", too_large=True)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ZipProblem(f"not a zip archive: {exc}") from None
    files: dict[str, bytes] = {}
    total = 0
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if not is_regular_file(info):
                raise ZipProblem(f"{info.filename!r} is not a regular file (a link, a FIFO, a "
                                 "device); only regular files are taken")
            if problem := path_problem(info.filename):
                raise ZipProblem(f"the path {info.filename!r} {problem}")
            if info.filename in files:
                raise ZipProblem(f"{info.filename!r} is in the zip twice")
            if len(files) >= WORKSPACE_MAX_FILES:
                raise ZipProblem(f"more than {WORKSPACE_MAX_FILES} files", too_large=True)
            content = _read_entry(archive, info)
            total += len(content)
            if total > WORKSPACE_MAX_TOTAL_BYTES:
                raise ZipProblem(f"the files total more than {WORKSPACE_MAX_TOTAL_BYTES} bytes",
                                 too_large=True)
            files[info.filename] = content
    return files


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        content = read_member(archive, info, WORKSPACE_MAX_FILE_BYTES)
    except UnreadableMember as exc:
        raise ZipProblem(f"cannot read {info.filename!r}: {exc}") from None
    if len(content) > WORKSPACE_MAX_FILE_BYTES:
        raise ZipProblem(f"{info.filename!r} is larger than {WORKSPACE_MAX_FILE_BYTES} bytes",
                         too_large=True)
    return content
