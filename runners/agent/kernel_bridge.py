"""A Jupyter kernel inside the sandbox, spoken to in JSON lines (python image only).

The agent starts this bridge for a notebook (``{"op":"kernel"}``) and relays its lines; the
bridge starts the kernel with ``jupyter_client`` (ZeroMQ over unix sockets in /tmp: the sandbox
has no network) and speaks the real Jupyter messaging protocol to it. It runs as the sandbox
user, like the kernel, so nothing it says is trusted more than the program's own output: the
agent wraps every line, and the runner checks ids and sizes.

In (stdin):   {"op":"execute","id":"<executionId>","code":"...","silent"?:true,
               "outputBytes"?:n}
              {"op":"interrupt"}  {"op":"restart"}  {"op":"shutdown"}
Out (stdout): {"msg":"ready","kernel":"python","language":"python","version":"3.11.2"}
              {"msg":"failed","error":"..."}
              {"msg":"output","id":"...","output":{nbformat 4 output}}
              {"msg":"done","id":"...","status":"ok|error|aborted|restarted|died",
               "executionCount":n,"outputExceeded":bool}
              {"msg":"restarted"}  {"msg":"died"}

A cell's outputs are relayed until they reach its ``outputBytes`` (as JSON): the one that
passes is cut to fit (a stream's text) or dropped, the kernel is interrupted at once and the
rest of the cell's outputs are dropped here, so that the cell's end is not queued behind a
flood the runner would only discard. Outputs stay small: the kernel flushes its streams every
64 KiB (kernel_startup.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]
"""A JSON object: a command in, a message out, a Jupyter message or an nbformat output."""
KERNEL_SPECS = {"python": "python3", "bash": "bash"}
MAX_OUTPUT_BYTES = 4 * 1024 * 1024
"""One output larger than this (a huge image, say) is replaced by a note on stderr."""
ALIVE_CHECK_S = 1.0
HELD_INTERRUPT_DELAY_S = 0.1
"""How long after a cell began an interrupt held for it is sent: the kernel announces a cell
before its own code around it runs, and an interrupt landing there is fragile (see
REPLY_GRACE_S); a tenth of a second later it almost always lands in the cell's code."""
REPLY_GRACE_S = 1.0
"""How long a cell's reply may come after its idle status (they come on two sockets) before the
request counts as dropped: ipykernel catches a KeyboardInterrupt raised in its own code around
the cell (before the cell's code runs) and goes idle without answering."""
START_TIMEOUT_S = 60.0
RUNTIME = "/tmp/.jupyter"
STARTUP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_startup.py")


def emit(message: Message) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def nbformat_output(msg_type: str, content: Message, count: int | None) -> Message | None:
    """An iopub message as an nbformat 4 output, or None for messages that are not outputs."""
    if msg_type == "stream":
        return {"output_type": "stream", "name": content.get("name", "stdout"),
                "text": content.get("text", "")}
    if msg_type == "execute_result":
        return {"output_type": "execute_result", "execution_count": count,
                "data": content.get("data", {}), "metadata": content.get("metadata", {})}
    if msg_type in ("display_data", "update_display_data"):
        return {"output_type": "display_data", "data": content.get("data", {}),
                "metadata": content.get("metadata", {})}
    if msg_type == "error":
        return {"output_type": "error", "ename": content.get("ename", ""),
                "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])}
    return None


def json_size(output: Message) -> int:
    return len(json.dumps(output, separators=(",", ":")))


def bounded(output: Message) -> Message:
    size = len(json.dumps(output))
    if size <= MAX_OUTPUT_BYTES:
        return output
    return {"output_type": "stream", "name": "stderr",
            "text": f"[an output of {size} bytes was dropped: the limit is "
                    f"{MAX_OUTPUT_BYTES} bytes per output]\n"}


def kernel_env() -> dict[str, str]:
    """The sandbox's environment for the kernel: matplotlib draws inline (PNG), its font cache
    comes pre-built from the image into a writable /tmp."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    config = "/tmp/.matplotlib"
    if not os.path.isdir(config) and os.path.isdir("/opt/mplconfig"):
        shutil.copytree("/opt/mplconfig", config)
    env.update({"MPLCONFIGDIR": config, "IPYTHONDIR": "/tmp/.ipython",
                "JUPYTER_RUNTIME_DIR": RUNTIME, "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                "PYTHONSTARTUP": STARTUP})
    return env


class Bridge:
    def __init__(self, kernel: str) -> None:
        from jupyter_client.manager import KernelManager

        os.makedirs(RUNTIME, exist_ok=True)
        self.kernel = kernel
        self.manager = KernelManager(
            kernel_name=KERNEL_SPECS[kernel], transport="ipc", ip=f"{RUNTIME}/kernel",
            connection_file=f"{RUNTIME}/kernel.json",
        )
        self.client: Any = None
        self.current: str | None = None
        self.msg_id: str | None = None
        self.count: int | None = None
        self.idle_at: float | None = None
        """When the kernel went idle after the current cell; None while it has not."""
        self.interrupted = False
        """SIGINT was sent to the kernel during the current cell."""
        self.reply: Message | None = None
        self.output_left: int | None = None
        """Bytes of output the running cell may still send; None: no cap."""
        self.exceeded = False
        self.silent = False
        self.started = False
        """The kernel runs the current cell's request (its SIGINT handler is in place)."""
        self.interrupt_due = False
        """An interrupt came before the kernel began the current cell: sent when it does."""
        self.interrupt_at: float | None = None
        """When the held interrupt is sent (``HELD_INTERRUPT_DELAY_S`` after the cell began)."""
        self.buffer = b""
        self.waiting: list[Message] = []
        """Cells sent while one runs (the runner sends one at a time; this is a safeguard)."""

    def start(self) -> Message:
        self.manager.start_kernel(env=kernel_env(), cwd="/workspace")
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=START_TIMEOUT_S)
        self.client.kernel_info()
        info: Message = self.client.get_shell_msg(timeout=START_TIMEOUT_S)
        return info

    def serve(self) -> None:
        import zmq

        try:
            info = self.start()
        except Exception as exc:  # the kernel did not come up: say why and stop
            emit({"msg": "failed", "error": f"{type(exc).__name__}: {exc}"})
            return
        language = (info or {}).get("content", {}).get("language_info", {})
        emit({"msg": "ready", "kernel": self.kernel, "language": language.get("name", ""),
              "version": language.get("version", "")})
        os.set_blocking(0, False)
        last_check = time.monotonic()
        while True:
            poller = zmq.Poller()
            poller.register(0, zmq.POLLIN)
            poller.register(self.client.iopub_channel.socket, zmq.POLLIN)
            poller.register(self.client.shell_channel.socket, zmq.POLLIN)
            wait_s = ALIVE_CHECK_S if self.interrupt_at is None else max(
                0.0, min(ALIVE_CHECK_S, self.interrupt_at - time.monotonic()))
            ready = dict(poller.poll(int(wait_s * 1000)))
            if 0 in ready and not self.read_commands():
                return
            self.drain()
            if time.monotonic() - last_check >= ALIVE_CHECK_S:
                last_check = time.monotonic()
                if not self.manager.is_alive():
                    self.kernel_died()

    def read_commands(self) -> bool:
        try:
            chunk = os.read(0, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            self.shutdown()
            return False
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip() and not self.command(json.loads(line)):
                return False
        return True

    def command(self, command: Message) -> bool:
        op = command.get("op")
        if op == "execute":
            self.waiting.append(command)
            self.start_next()
        elif op == "interrupt":
            self.interrupt()
        elif op == "restart":
            self.finish("restarted")
            self.manager.restart_kernel(now=True, newports=False)
            self.client.wait_for_ready(timeout=START_TIMEOUT_S)
            self.drain_everything()
            emit({"msg": "restarted"})
        elif op == "shutdown":
            self.shutdown()
            return False
        return True

    def start_next(self) -> None:
        if self.current or not self.waiting:
            return
        command = self.waiting.pop(0)
        self.current, self.count, self.idle_at, self.reply = command["id"], None, None, None
        self.silent, self.started, self.interrupt_due = bool(command.get("silent")), False, False
        self.interrupted, self.interrupt_at = False, None
        cap = command.get("outputBytes")
        self.output_left = cap if isinstance(cap, int) else None
        self.exceeded = False
        self.msg_id = self.client.execute(command.get("code", ""), allow_stdin=False,
                                          stop_on_error=False,
                                          silent=bool(command.get("silent")))

    def drain(self) -> None:
        while (msg := self.next(self.client.get_iopub_msg)) is not None:
            self.on_iopub(msg)
        if self.interrupt_at is not None and time.monotonic() >= self.interrupt_at:
            self.interrupt_at = None
            if self.current:
                self.send_interrupt()
        while (msg := self.next(self.client.get_shell_msg)) is not None:
            if msg["parent_header"].get("msg_id") == self.msg_id and self.current:
                self.reply = msg["content"]
        self.settle()
        self.start_next()

    def settle(self) -> None:
        """End the current cell once the kernel went idle after it: with its reply, or as
        dropped when none came within ``REPLY_GRACE_S``."""
        if not self.current or self.idle_at is None:
            return
        if self.reply is not None:
            self.count = self.reply.get("execution_count", self.count)
            self.finish(self.reply.get("status", "ok"))
        elif time.monotonic() - self.idle_at >= REPLY_GRACE_S:
            self.dropped()

    def dropped(self) -> None:
        """The kernel went idle and never answered the cell's request: ended ``error``, with
        the error a reply would have shown (an interrupt before the cell's code ran, which
        ipykernel catches in its own code; or a failure of its handler)."""
        ename, evalue = ("KeyboardInterrupt", "the cell was interrupted before its code ran") \
            if self.interrupted else ("KernelError", "the kernel ended the cell without an answer")
        emit({"msg": "output", "id": self.current, "output": {
            "output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"{ename}: {evalue}"]}})
        self.finish("error")

    @staticmethod
    def next(get: Callable[..., Message]) -> Message | None:
        try:
            return get(timeout=0)
        except Exception:  # queue.Empty: nothing waiting
            return None

    def drain_everything(self) -> None:
        while self.next(self.client.get_iopub_msg) is not None:
            pass
        while self.next(self.client.get_shell_msg) is not None:
            pass

    def interrupt(self) -> None:
        """SIGINT to the kernel, once it runs the current cell: ipykernel ignores SIGINT
        between requests and sets its handler only as it begins one, so an interrupt sent
        right after the cell (before the kernel took its request) was lost, and the cell ran
        on until the runner gave up on the kernel and removed it with its state."""
        if self.current and not self.started:
            self.interrupt_due = True
            return
        self.send_interrupt()

    def began(self) -> None:
        self.started = True
        if self.interrupt_due:
            self.interrupt_due = False
            self.interrupt_at = time.monotonic() + HELD_INTERRUPT_DELAY_S

    def send_interrupt(self) -> None:
        self.interrupted = bool(self.current)
        self.manager.interrupt_kernel()

    def on_iopub(self, msg: Message) -> None:
        if not self.current or msg["parent_header"].get("msg_id") != self.msg_id:
            return
        kind, content = msg["msg_type"], msg["content"]
        # A cell's execute_input comes once its handler runs (a silent one has none: its
        # busy status, sent just before, stands for it).
        if kind == "execute_input" or (self.silent and kind == "status"
                                       and content.get("execution_state") == "busy"):
            self.began()
        if kind == "execute_input":
            self.count = content.get("execution_count", self.count)
        elif kind == "status" and content.get("execution_state") == "idle":
            self.idle_at = time.monotonic()
        output = nbformat_output(kind, content, self.count)
        if output is not None and not self.exceeded:
            output = self.within_cap(bounded(output))
            if output is not None:
                emit({"msg": "output", "id": self.current, "output": output})

    def within_cap(self, output: Message) -> Message | None:
        """The output as far as the cell's cap allows (a stream's text is cut to fit, anything
        else is dropped whole); past the cap, the cell is interrupted and what it still
        prints is dropped."""
        if self.output_left is None:
            return output
        size = json_size(output)
        if size <= self.output_left:
            self.output_left -= size
            return output
        self.exceeded = True
        self.send_interrupt()
        if output.get("output_type") != "stream":
            return None
        text = output["text"]
        while text and json_size({**output, "text": text}) > self.output_left:
            text = text[: len(text) - max(1, json_size({**output, "text": text})
                                          - self.output_left)]
        return {**output, "text": text} if text else None

    def finish(self, status: str) -> None:
        if self.current:
            emit({"msg": "done", "id": self.current, "status": status,
                  "executionCount": self.count, "outputExceeded": self.exceeded})
        self.current = self.msg_id = None

    def kernel_died(self) -> None:
        self.finish("died")
        emit({"msg": "died"})
        self.manager.restart_kernel(now=True, newports=False)
        self.client.wait_for_ready(timeout=START_TIMEOUT_S)
        self.drain_everything()

    def shutdown(self) -> None:
        try:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=True)
        except Exception:  # the container is going away anyway
            pass


if __name__ == "__main__":
    Bridge(sys.argv[1] if len(sys.argv) > 1 else "python").serve()
