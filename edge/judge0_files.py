"""Judge0's ``additional_files``: a base64 zip, read in memory (never written to the host's
disk) into the program's files, with the limits every program has (count, sizes, safe paths)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection

from contracts.judge0 import MAX_EXTRACT_SIZE_KB
from contracts.messages import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_TOTAL_BYTES,
    SourceFile,
    file_name_problem,
)
from edge.judge0_rules import decode64
from edge.zip_members import UnreadableMember, is_regular_file, read_member


class ZipProblem(ValueError):
    """``additional_files`` cannot be used (the message says why)."""


def extract(encoded: str, taken: Collection[str]) -> list[SourceFile]:
    """The zip's regular files as program files (a file named like one of ``taken``, the
    submission's own, is skipped, as Judge0's ``unzip -n`` skips it); raises ZipProblem."""
    data = decode64(encoded)
    if len(data) > MAX_EXTRACT_SIZE_KB * 1024:
        raise ZipProblem(f"is larger than {MAX_EXTRACT_SIZE_KB} KB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ZipProblem(f"is not a zip archive: {exc}") from None
    files: list[SourceFile] = []
    total = 0
    for member in members:
        if (file := _member(archive, member, taken)) is None:
            continue
        if len(files) + 1 >= MAX_FILES:
            raise ZipProblem(f"holds more than {MAX_FILES - 1} files")
        total += len(file.content.encode())
        if total > MAX_TOTAL_BYTES:
            raise ZipProblem(f"holds more than {MAX_TOTAL_BYTES} bytes")
        files.append(file)
    return files


def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, taken: Collection[str]
            ) -> SourceFile | None:
    """One member as a program file; None for a folder and for a name ``taken``."""
    name = member.filename
    if member.is_dir():
        return None
    if problem := file_name_problem(name):
        raise ZipProblem(f"holds {name!r}, a name that {problem}")
    if not is_regular_file(member):
        raise ZipProblem(f"holds {name!r}, which is not a regular file")
    if name in taken:
        return None
    try:
        return SourceFile(name, _read(archive, member).decode())
    except UnicodeDecodeError:
        raise ZipProblem(f"holds {name!r}, which is not UTF-8 text") from None


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A member's bytes, read no further than the size a file may have (a zip bomb's declared
    size may lie)."""
    if member.file_size > MAX_FILE_BYTES:
        raise ZipProblem(f"holds {member.filename!r}, larger than {MAX_FILE_BYTES} bytes")
    try:
        content = read_member(archive, member, MAX_FILE_BYTES)
    except UnreadableMember as exc:
        raise ZipProblem(f"cannot be read: {exc}") from None
    if len(content) > MAX_FILE_BYTES:
        raise ZipProblem(f"holds {member.filename!r}, larger than {MAX_FILE_BYTES} bytes")
    return content
