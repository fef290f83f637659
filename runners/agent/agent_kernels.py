"""A notebook's kernel bridge (kernel_bridge.py) as the agent runs it: lines relayed both ways;
and the package layers copied in for its kernel (``%pip install``)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile

from agent_protocol import Message, emit
from agent_users import as_user


class KernelProcess:
    """A notebook kernel's bridge (kernel_bridge.py): JSON lines in and out, relayed as they
    come. It runs as the sandbox user like the code it runs, so the agent trusts none of it:
    each line it prints is wrapped (``{"ev":"kernel","data":…}``) and can never pass for one
    of the agent's own events; a line longer than ``MAX_LINE`` is dropped."""

    MAX_LINE = 6 * 1024 * 1024

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=as_user(),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.out_fd = self.proc.stdout.fileno()
        self.in_fd = self.proc.stdin.fileno()
        os.set_blocking(self.out_fd, False)
        os.set_blocking(self.in_fd, False)
        self.pending = b""
        self.buffer = b""
        self.skipping = False

    def queue(self, data: Message) -> None:
        self.pending += (json.dumps(data, separators=(",", ":")) + "\n").encode()

    def write(self) -> bool:
        """Write what is pending; True while some is left."""
        try:
            written = os.write(self.in_fd, self.pending[:65536])
            self.pending = self.pending[written:]
        except BlockingIOError:
            pass
        except OSError:  # the bridge is gone: its end of the pipe closed
            self.pending = b""
        return bool(self.pending)

    def read(self) -> bool:
        """Relay what the bridge printed; False once it has exited."""
        try:
            chunk = os.read(self.out_fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if self.skipping:
                self.skipping = False
            elif line.strip():
                self.relay(line)
        if len(self.buffer) > self.MAX_LINE:
            self.buffer, self.skipping = b"", True
            emit({"ev": "kernel", "data": {"msg": "dropped"}})
        return True

    @staticmethod
    def relay(line: bytes) -> None:
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):  # nested too deep: the bridge is the user's
            return
        if isinstance(data, dict):
            try:
                emit({"ev": "kernel", "data": data})
            except ValueError:  # NaN or a lone surrogate: no JSON the runner takes
                emit({"ev": "kernel", "data": {"msg": "dropped"}})

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


class KernelLayers:
    """Package layers copied into a notebook's sandbox for its kernel (``put_layer``; docs/
    packages.md, Notebooks): a running container cannot mount the layer's volume, so the runner
    sends the layer's tar and the agent unpacks it into a new directory on /tmp, root-owned
    (directories 0755, files 0644 or 0755): the kernel, as the sandbox user, reads and imports
    it and cannot change it. The directory is made with ``mkdtemp`` (a fresh name, never one
    user code could have planted), so nothing is written through a path user code controls.
    It counts against /tmp's size and the container's memory, as any file there; a kernel
    restart removes it with everything else of the kernel."""

    PREFIX = ".coderunner-packages-"

    def __init__(self, root: str = "/tmp") -> None:
        self.root = root
        self.paths: dict[str, str] = {}
        """A layer's key → where it is unpacked."""
        self.key = ""
        self.pieces = bytearray()

    def put(self, command: Message) -> None:
        key = str(command.get("key", ""))
        if key != self.key:
            self.key, self.pieces = key, bytearray()
        try:
            self.pieces += base64.b64decode(str(command.get("data", "")), validate=True)
        except ValueError:
            self.key, self.pieces = "", bytearray()
            emit({"ev": "layer", "ok": False, "error": "the layer's data is not base64"})
            return
        if not command.get("last"):
            return
        data, self.key, self.pieces = bytes(self.pieces), "", bytearray()
        if not key or len(key) > 64 or key.strip("0123456789abcdef"):
            emit({"ev": "layer", "ok": False, "error": "a layer's key is hex"})
            return
        try:
            path = self.paths.get(key) or self.unpack(key, data)
        except (OSError, ValueError, tarfile.TarError) as exc:
            emit({"ev": "layer", "ok": False, "error": str(exc)})
            return
        self.paths[key] = path
        emit({"ev": "layer", "ok": True, "path": path})

    def unpack(self, key: str, data: bytes) -> str:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            members = archive.getmembers()
            needed = sum(m.size for m in members if m.isfile())
            disk = os.statvfs(self.root)
            free = disk.f_bavail * disk.f_frsize
            if needed > free:
                raise OSError(f"the packages need {needed // 1024} KiB, the kernel's /tmp has "
                              f"{free // 1024} KiB free")
            path = tempfile.mkdtemp(prefix=f"{self.PREFIX}{key[:12]}-", dir=self.root)
            try:
                for member in members:
                    self.extract(archive, member, path)
                for folder, _, _ in os.walk(path):  # whatever the agent's umask
                    os.chmod(folder, 0o755)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
        return path

    @staticmethod
    def extract(archive: tarfile.TarFile, member: tarfile.TarInfo, root: str) -> None:
        """One regular file or directory (the runner sends nothing else), under ``root``."""
        parts = [p for p in member.name.split("/") if p not in ("", ".")]
        if member.name.startswith("/") or ".." in parts:
            raise ValueError(f"a layer holds {member.name[:80]!r}, outside its directory")
        if not parts:
            return
        target = os.path.join(root, *parts)
        if member.isdir():
            os.makedirs(target, 0o755, exist_ok=True)
        elif member.isfile():
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(target, flags, 0o600)
            os.fchmod(fd, 0o755 if member.mode & 0o111 else 0o644)
            source = archive.extractfile(member)
            assert source is not None
            with os.fdopen(fd, "wb") as written, source:
                shutil.copyfileobj(source, written)

    def remove_all(self) -> None:
        """Before a reset: the layers are the agent's (root's), which the reset, as the sandbox
        user, could not remove."""
        for path in self.paths.values():
            shutil.rmtree(path, ignore_errors=True)
        self.paths.clear()
        self.key, self.pieces = "", bytearray()
