"""Run by a notebook's IPython kernel at start (``PYTHONSTARTUP``, set by kernel_bridge.py).

ipykernel gathers what a cell prints between flushes (every 0.2 s) without any bound: a cell
printing in a loop without flushing would send one output of tens of megabytes, and the kernel
may run out of memory building it. Here the standard streams flush (and wait for the send, so
a flooding cell is slowed to what the bridge takes) as soon as ``FLUSH_BYTES`` are gathered, so
every output stays small and the bridge's output cap acts within a cell as anywhere else.

IPython runs this file in the notebook's own namespace: it leaves no name behind (hence no
``from __future__`` import, which would bind ``annotations`` there).
"""


def _coderunner_bound_streams() -> None:
    import sys

    flush_bytes = 65536

    def gathered(stream: object) -> int:
        """What ``stream`` holds unsent: ipykernel 6.29+ keeps a buffer per parent message
        (``_buffers``), older ones one (``_buffer``); a new one after each send."""
        buffers = getattr(stream, "_buffers", None)
        try:
            if buffers is not None:
                return sum(buffer.tell() for buffer in list(buffers.values()))
            return int(stream._buffer.tell())  # type: ignore[attr-defined]
        except (ValueError, RuntimeError):  # the I/O thread just sent (and closed) them
            return 0

    def bound(stream: object) -> None:
        write = getattr(stream, "write", None)
        flush = getattr(stream, "flush", None)
        if write is None or flush is None or not (
                hasattr(stream, "_buffers") or hasattr(stream, "_buffer")):
            return  # not ipykernel's stream: nothing gathers without bound

        def bounded_write(text: str) -> "int | None":
            written: int | None = write(text)
            if gathered(stream) >= flush_bytes:
                flush()
            return written

        stream.write = bounded_write  # type: ignore[attr-defined]

    bound(sys.stdout)
    bound(sys.stderr)


_coderunner_bound_streams()
del _coderunner_bound_streams
