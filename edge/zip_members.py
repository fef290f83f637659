"""Members of an uploaded zip (a workspace upload, Judge0's ``additional_files``): only regular
files are taken, and a member is read no further than the size a file may have (a zip bomb's
declared sizes may lie)."""

from __future__ import annotations

import stat
import zipfile
import zlib


class UnreadableMember(ValueError):
    """The member cannot be read (the message says why)."""


def is_regular_file(member: zipfile.ZipInfo) -> bool:
    """Whether a member (not a folder) is a regular file: most zip writers leave the Unix type
    bits 0; any other type (a link, a FIFO, a device) is not one."""
    return stat.S_IFMT(member.external_attr >> 16) in (0, stat.S_IFREG)


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the member (more than ``limit``: too large)."""
    try:
        with archive.open(member) as handle:
            return handle.read(limit + 1)
    except (zipfile.BadZipFile, RuntimeError, ValueError, OSError, EOFError, zlib.error) as exc:
        raise UnreadableMember(str(exc)) from None
