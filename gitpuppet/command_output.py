"""Reading a command's output as it comes, keeping at most OUTPUT_CAP of it (command.py)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import subprocess
import time

OUTPUT_CAP = 64 * 1024
# What is kept of a long output: its start (what the command was doing) and its end (how it
# failed), with room left for the "[N bytes cut]" line between them.
HEAD_KEEP = 16 * 1024
TAIL_KEEP = OUTPUT_CAP - HEAD_KEEP - 40
READ_SIZE = 1 << 20
# A larger pipe means fewer wake-ups for a command that prints a lot (Linux; best effort).
PIPE_SIZE = 1 << 20
# Without a pidfd, how often the process is checked for its exit while the output stays open.
POLL_EXIT = 0.05


class CappedOutput:
    """The first HEAD_KEEP and the last TAIL_KEEP bytes of a stream, and how many were cut."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.cut = 0

    def add(self, data: bytes | memoryview) -> None:
        """Take the next chunk of the stream."""
        room = HEAD_KEEP - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if len(data) >= TAIL_KEEP:  # a big chunk: only its end can stay
            self.cut += len(self.tail) + len(data) - TAIL_KEEP
            self.tail = bytearray(data[-TAIL_KEEP:])
            return
        self.tail += data
        extra = len(self.tail) - TAIL_KEEP
        if extra > 0:
            del self.tail[:extra]
            self.cut += extra

    def text(self) -> str:
        """The kept output decoded (invalid UTF-8 replaced), "[N bytes cut]" where it was cut."""
        if not self.cut:
            return (self.head + self.tail).decode("utf-8", errors="replace")
        head = _without_partial_end(bytes(self.head))
        tail = _without_partial_start(bytes(self.tail))
        cut = self.cut + len(self.head) - len(head) + len(self.tail) - len(tail)
        return (
            head.decode("utf-8", errors="replace")
            + f"\n[{cut} bytes cut]\n"
            + tail.decode("utf-8", errors="replace")
        )


def _without_partial_start(data: bytes) -> bytes:
    """`data` without the continuation bytes of a character cut at its start."""
    skip = 0
    while skip < min(3, len(data)) and 0x80 <= data[skip] < 0xC0:
        skip += 1
    return data[skip:]


def _without_partial_end(data: bytes) -> bytes:
    """`data` without a multi-byte character cut at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:  # the lead byte: how long its character is
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if need <= back else data[:-back]
    return data


class PipeReader:
    """A running command's stdout (and stderr, if separate) read into CappedOutputs, its stdin
    fed from `input`, all without threads."""

    def __init__(self, proc: subprocess.Popen[bytes], input: bytes | None) -> None:
        self.proc = proc
        self.out = CappedOutput()
        self.err = CappedOutput() if proc.stderr is not None else None
        self.sel = selectors.DefaultSelector()
        self.reading = 0
        # Each pipe is closed through its file object, once (never a bare fd that may be reused).
        self.streams = {s.fileno(): s for s in (proc.stdin, proc.stdout, proc.stderr) if s}
        for stream, sink in ((proc.stdout, self.out), (proc.stderr, self.err)):
            if stream is not None and sink is not None:
                with contextlib.suppress(OSError):
                    fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
                self.sel.register(stream.fileno(), selectors.EVENT_READ, sink)
                self.reading += 1
        self.pending = memoryview(input or b"")
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            self.sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "stdin")
        self.pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):  # Linux >= 5.3
            self.pidfd = os.pidfd_open(proc.pid)
            self.sel.register(self.pidfd, selectors.EVENT_READ, "exit")
        self.exited_at: float | None = None
        # One buffer for every read: gigabytes streamed through need no 1 MiB object each.
        self.buffer = bytearray(READ_SIZE)

    def pump(self, until: float, exit_grace: float | None = None) -> bool:
        """Read until the output is closed (True) or `until` passed (False); with `exit_grace`,
        stop that long after the process exited even if the output stays open."""
        while self.reading:
            now = time.monotonic()
            if self.exited_at is None and self.proc.poll() is not None:
                self.exited_at = now
            if exit_grace is not None and self.exited_at is not None:
                until = min(until, self.exited_at + exit_grace)
            wait = until - now
            if wait <= 0:
                return False
            if self.pidfd is None and self.exited_at is None:
                wait = min(wait, POLL_EXIT)
            for key, _ in self.sel.select(wait):
                self._ready(key)
        return True

    def _ready(self, key: selectors.SelectorKey) -> None:
        fd = int(key.fd)
        if key.data == "exit":
            self._forget(fd)
            self.pidfd = None
            self.proc.poll()
        elif key.data == "stdin":
            self._feed(fd)
        else:
            size = os.readv(fd, [self.buffer])
            if size:
                key.data.add(memoryview(self.buffer)[:size])
            else:
                self._forget(fd)
                self.reading -= 1

    def _feed(self, fd: int) -> None:
        try:
            written = os.write(fd, self.pending[: 1 << 16]) if self.pending else 0
        except BlockingIOError:
            return
        except OSError:  # BrokenPipeError: the command does not read its input
            written = len(self.pending)
        self.pending = self.pending[written:]
        if not self.pending:
            self._forget(fd)

    def _forget(self, fd: int) -> None:
        self.sel.unregister(fd)
        stream = self.streams.pop(fd, None)
        if stream is None:
            os.close(fd)  # the pidfd
        else:
            with contextlib.suppress(OSError):
                stream.close()

    def close(self) -> None:
        """Stop reading: close every pipe still open (a background child keeps its end)."""
        for key in list(self.sel.get_map().values()):
            self._forget(int(key.fd))
        self.sel.close()
        for stream in self.streams.values():
            with contextlib.suppress(OSError):
                stream.close()
        self.streams.clear()
        self.reading = 0
