"""The webhook's HTTP listener and the run trigger it pokes (see gitpuppet.agent.webhook).

The listener (a ThreadingHTTPServer in a background thread) only answers requests; the runs
happen one after another in the thread that calls `RunTrigger.loop` (the main thread, so a run
behaves as under `gitpuppet run`). A poke during a run coalesces into one more run after it.

A client gets `timeout` seconds for its whole request (headers and body), so a slow client
cannot hold a connection; at most `MAX_CLIENTS` connections are served at once; a body is read
only when its Content-Length is at most `max_body` (else 413, unread).
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from gitpuppet.agent.lock import LockHeld
from gitpuppet.agent.webhook import (
    MAX_BODY,
    SeenDeliveries,
    Verdict,
    WebhookError,
    decide,
    header_map,
)
from gitpuppet.errors import GitpuppetError

MAX_CLIENTS = 32
DEFAULT_TIMEOUT = 10.0
LOCK_RETRY = 5.0  # seconds between tries while another run (the timer's, a person's) holds the lock


@dataclass(frozen=True, slots=True)
class Listen:
    """Where to listen: host (IPv4 or IPv6 literal, or a name) and port (0: any free one)."""

    host: str
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def url(self, path: str) -> str:
        """`http://host:port/path`, an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"


def parse_listen(text: str) -> Listen:
    """`HOST:PORT`, `[V6]:PORT` or `PORT` (127.0.0.1) as a Listen; a WebhookError otherwise."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""  # an IPv6 literal without brackets: ambiguous, refused below
    if not host or not port.isdigit() or int(port) > 65535:
        raise WebhookError(
            f"--listen {text!r}: expected HOST:PORT",
            "e.g. 127.0.0.1:8472, [::1]:8472 or 0.0.0.0:8472",
        )
    return Listen(host, int(port))


class RunTrigger:
    """Pokes in, runs out: never two at once, and pokes during a run make one more run."""

    def __init__(
        self,
        run: Callable[[], object],
        on_message: Callable[[str], None],
        lock_retry: float = LOCK_RETRY,
    ) -> None:
        self._run = run
        self._say = on_message
        self._retry = lock_retry
        self._cond = threading.Condition()
        self._pending = False
        self._running = False
        self._stopping = False

    def poke(self) -> str:
        """Ask for a run; says what happens (started, queued, or already queued)."""
        with self._cond:
            if self._pending:
                return "a run is already queued; this push joins it"
            self._pending = True
            self._cond.notify_all()
            return "run queued after the one in progress" if self._running else "run started"

    def stop(self) -> None:
        """End `loop` once the run in flight (if any) is done."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def loop(self) -> None:
        """Run each pending poke until `stop`; call from the thread that should do the runs."""
        while self._next():
            held: LockHeld | None = None
            try:
                self._run()
            except LockHeld as exc:
                held = exc
            except GitpuppetError as exc:
                self._say(f"gitpuppet webhook: run skipped or failed: {exc}")
            except Exception as exc:  # noqa: BLE001 - one bad run must not end the listener
                self._say(f"gitpuppet webhook: run failed: {type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    self._running = False
            if held is not None:
                self._say(f"gitpuppet webhook: {held}; trying again in {self._retry:g} s")
                self._later()

    def _next(self) -> bool:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait(timeout=0.5)  # wakes now and then so signal handlers run
            if self._stopping:
                return False
            self._pending, self._running = False, True
            return True

    def _later(self) -> None:
        """Keep the poke pending and wait a while: the holder's run may predate the push."""
        with self._cond:
            self._pending = True
            self._cond.wait_for(lambda: self._stopping, timeout=self._retry)


class HookServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that serves at most MAX_CLIENTS connections at once."""

    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 makes a burst of clients wait for SYN retries (1 s,
    # 2 s, ...) before they are even accepted, and then refused if over MAX_CLIENTS.
    request_queue_size = 128

    def __init__(self, listen: Listen, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = listen.family
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        super().__init__((listen.host, listen.port), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in DNS (getfqdn), which can hang start-up.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def bound(self) -> Listen:
        """The address really listened on (the free port chosen for port 0)."""
        return Listen(self.server_name, self.server_port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: drop it, the sender retries or the timer runs
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, no traceback (socketserver prints one to stderr by default)."""
        exc = sys.exc_info()[1]
        log = getattr(self.RequestHandlerClass, "hook", None)
        text = (
            f"gitpuppet webhook: {client_address[0]}: request failed: {type(exc).__name__}: {exc}"
        )
        if log is not None:
            log.on_message(printable(text))


@dataclass
class HookSettings:
    """What a request handler needs: the secret, the branch, the path and the limits."""

    secret: bytes
    branch: str
    path: str
    trigger: RunTrigger
    on_message: Callable[[str], None]
    timeout: float = DEFAULT_TIMEOUT
    max_body: int = MAX_BODY
    seen: SeenDeliveries | None = None


def make_server(listen: Listen, settings: HookSettings) -> HookServer:
    """A bound (not yet serving) server; a WebhookError when the address cannot be used."""
    seen = settings.seen or SeenDeliveries()

    class Handler(HookHandler):
        hook = settings
        deliveries = seen

    try:
        return HookServer(listen, Handler)
    except OSError as exc:
        raise WebhookError(
            f"cannot listen on {listen.host}:{listen.port}: {exc.strerror}",
            "choose another --listen address or port",
        ) from None


class HookHandler(BaseHTTPRequestHandler):
    """One request: method and path, size, deadline, then `decide`; never the secret in a log."""

    hook: HookSettings
    deliveries: SeenDeliveries
    server_version = "gitpuppet-webhook"

    def version_string(self) -> str:
        return self.server_version  # no Python version for the world to see

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.hook.timeout)
        # The deadline for the whole request: a client trickling bytes is cut off when it ends.
        self._deadline = threading.Timer(self.hook.timeout, self._cut_off)
        self._deadline.daemon = True
        self._deadline.start()

    def finish(self) -> None:
        self._deadline.cancel()
        try:
            super().finish()
        except OSError:
            pass

    def _cut_off(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        if urlsplit(self.path).path != self.hook.path:
            return self._answer(Verdict(404, f"not found; webhooks go to {self.hook.path}"))
        body = self._read_body()
        if body is None:
            return
        self._deadline.cancel()  # the request is in; answering is up to us
        verdict = decide(
            header_map(self.headers.items()),
            body,
            self.hook.secret,
            self.hook.branch,
            self.deliveries,
        )
        if verdict.poke:
            verdict = Verdict(verdict.status, f"{verdict.message}: {self.hook.trigger.poke()}")
        self._answer(verdict)

    def _read_body(self) -> bytes | None:
        """The body, or None once an error was answered (no length, too long, cut short)."""
        if self.headers.get("Transfer-Encoding"):
            self._answer(Verdict(411, "send a Content-Length, not a chunked body"))
            return None
        length = self.headers.get("Content-Length", "")
        if not length.strip().isdigit():
            self._answer(Verdict(411, "a Content-Length is required"))
            return None
        size = int(length)
        if size > self.hook.max_body:
            self._answer(Verdict(413, f"body over {self.hook.max_body} bytes"))
            return None
        try:
            body = self.rfile.read(size)
        except OSError:
            body = b""
        if len(body) != size:
            self.close_connection = True  # cut off or gone: nobody to answer
            self.log_message("%s", "request body cut short or too slow; dropped")
            return None
        return body

    def _refuse_method(self) -> None:
        self._answer(Verdict(405, "only POST"), allow=True)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method  # noqa: N815

    def _answer(self, verdict: Verdict, allow: bool = False) -> None:
        data = (verdict.message + "\n").encode()
        self.close_connection = True
        try:
            self.send_response(verdict.status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            if allow:
                self.send_header("Allow", "POST")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            return  # the client went away
        self.log_message("%d %s", verdict.status, verdict.message)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Answers are logged by `_answer`, with their reason."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        text = f"gitpuppet webhook: {self.client_address[0]}: {format % args}"
        self.hook.on_message(printable(text))


def printable(text: str) -> str:
    """`text` with control characters escaped: a request line cannot forge log lines."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
