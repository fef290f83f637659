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

    def bound(stream: object) -> None:
        write = getattr(stream, "write", None)
        flush = getattr(stream, "flush", None)
        if write is None or flush is None or not hasattr(stream, "_buffer"):
            return  # not ipykernel's stream: nothing gathers without bound

        def bounded_write(text: str) -> "int | None":
            written: int | None = write(text)
            try:  # a new buffer after each send
                full = stream._buffer.tell() >= flush_bytes
            except ValueError:  # the I/O thread just sent (and closed) it
                full = False
            if full:
                flush()
            return written

        stream.write = bounded_write  # type: ignore[attr-defined]

    bound(sys.stdout)
    bound(sys.stderr)


_coderunner_bound_streams()
del _coderunner_bound_streams
