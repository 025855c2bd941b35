"""Real git servers on 127.0.0.1 for tests, and helpers to make upstream repos and signed commits.

Servers: `git daemon` (git://), OpenSSH sshd (ssh://, with throwaway host and client keys) and
git-http-backend behind a small CGI-speaking HTTP server (http://). Each serves every repository
under one base folder, can be stopped mid-test and started again on the same port, and is ended
by its PID (sshd, git daemon) or by shutting its thread down (http).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
_names = itertools.count(1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 10) -> None:
    """Wait until something accepts connections on 127.0.0.1:port (or the process died)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run the git CLI (tests only: the product never shells out to git); returns stdout."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


# -- repositories and signing keys -------------------------------------------------------------


@dataclass
class SigningKey:
    """An ssh key pair for signing commits, with the principal named in allowed_signers."""

    key: Path
    principal: str

    @property
    def pub(self) -> str:
        """The public key line."""
        return Path(f"{self.key}.pub").read_text().strip()

    def allowed_signers(self, path: Path) -> Path:
        """Write an allowed_signers file trusting this key for git; returns its path."""
        kind, blob = self.pub.split()[:2]
        path.write_text(f'{self.principal} namespaces="git" {kind} {blob}\n')
        return path


def make_key(directory: Path, name: str, principal: str | None = None) -> SigningKey:
    """A fresh ed25519 key pair (no passphrase) at directory/name."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return SigningKey(key, principal or f"{name}@example.com")


@dataclass
class Upstream:
    """A bare repository served by the test servers, and a working clone that pushes into it."""

    base: Path
    name: str  # path of the bare repo relative to the servers' base folder
    work: Path
    branch: str = "main"

    @property
    def bare(self) -> Path:
        """The bare repository's folder."""
        return self.base / self.name

    @property
    def file_url(self) -> str:
        """file:// URL of the bare repository."""
        return f"file://{self.bare}"

    def commit(
        self,
        files: dict[str, str | None],
        message: str = "change",
        sign: SigningKey | None = None,
        when: int | None = None,
    ) -> str:
        """Write (or with None, delete) files in the working clone and commit; returns the id."""
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "-A", cwd=self.work)
        args = ["commit", "-q", "--allow-empty", "-m", message]
        if sign is not None:
            args = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={sign.key}", *args, "-S"]
        env = {}
        if when is not None:
            env = {"GIT_COMMITTER_DATE": f"@{when} +0000", "GIT_AUTHOR_DATE": f"@{when} +0000"}
        git(*args, cwd=self.work, env=env)
        return git("rev-parse", "HEAD", cwd=self.work)

    def push(self, force: bool = False) -> None:
        """Push the branch to the bare repository."""
        git("push", "-q", *(["-f"] if force else []), "origin", self.branch, cwd=self.work)

    def commit_and_push(self, files: dict[str, str | None], message: str = "change", **kw) -> str:  # type: ignore[no-untyped-def]
        """commit() then push(); returns the commit id."""
        commit_id = self.commit(files, message, **kw)
        self.push()
        return commit_id


def make_upstream(base: Path, branch: str = "main") -> Upstream:
    """A new empty bare repo under `base` with a working clone next to it."""
    n = next(_names)
    name = f"up{os.getpid()}-{n}.git"
    base.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", "-b", branch, str(base / name))
    work = base.parent / "work" / f"up{os.getpid()}-{n}"
    work.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "-q", str(base / name), str(work))
    git("checkout", "-q", "-b", branch, cwd=work)
    return Upstream(base, name, work, branch)


# -- servers -------------------------------------------------------------------------------------


class _ProcessServer:
    """A server process listening on a fixed port: start, stop (by PID), start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self.proc is not None:
            return
        log = self._log()
        try:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )
        finally:
            if log != subprocess.DEVNULL:
                os.close(log)
        wait_port(self.port, self.proc)

    def _log(self) -> int:
        return subprocess.DEVNULL

    def stop(self) -> None:
        """Terminate the server by its PID and wait until its port is closed."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class GitDaemon(_ProcessServer):
    """`git daemon` exporting every repository under `base` (git://127.0.0.1:PORT/NAME)."""

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base

    def argv(self) -> list[str]:
        return [
            "git",
            "daemon",
            "--reuseaddr",
            f"--base-path={self.base}",
            "--export-all",
            "--enable=receive-pack",
            "--listen=127.0.0.1",
            f"--port={self.port}",
            str(self.base),
        ]

    def url(self, up: Upstream) -> str:
        """The git:// URL of an upstream repo."""
        return f"git://127.0.0.1:{self.port}/{up.name}"


class Sshd(_ProcessServer):
    """OpenSSH sshd on 127.0.0.1 with a throwaway host key, accepting `client_key` for root."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.host_key = make_key(directory, "host_key").key
        self.client_key = make_key(directory, "client_key").key
        shutil.copy(f"{self.client_key}.pub", directory / "authorized_keys")
        (directory / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {directory / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
            f"PidFile {directory / 'sshd.pid'}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        )
        self.known_hosts = directory / "known_hosts"
        self.known_hosts.write_text(self.known_hosts_line() + "\n")

    def argv(self) -> list[str]:
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder sshd insists on
        return ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.dir / "sshd_config")]

    def _log(self) -> int:
        return os.open(self.dir / "sshd.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def known_hosts_line(self) -> str:
        """The known_hosts line for this server's host key ([127.0.0.1]:PORT type key)."""
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}"

    def url(self, up: Upstream) -> str:
        """The ssh:// URL of an upstream repo (logs in as root with `client_key`)."""
        return f"ssh://root@127.0.0.1:{self.port}{up.bare}"


class _CgiHandler(BaseHTTPRequestHandler):
    """Hands every request to git-http-backend as a CGI script (RFC 3875, by hand)."""

    server: _HttpServer

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._body()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.base),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_PROTOCOL": "HTTP/1.0",
        }
        for header in ("Content-Encoding", "Git-Protocol"):
            if self.headers.get(header):
                env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
        done = subprocess.run([HTTP_BACKEND], input=body, env=env, capture_output=True, timeout=60)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not payload and b"\n\n" in done.stdout:
            head, _, payload = done.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _HttpServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    base: Path


class HttpGit:
    """git-http-backend behind an HTTP server thread (http://127.0.0.1:PORT/NAME)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.server: _HttpServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on the port and serve in a thread."""
        if self.server is not None:
            return
        self.server = _HttpServer(("127.0.0.1", self.port), _CgiHandler)
        self.server.base = self.base
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the port."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.server = None

    def url(self, up: Upstream) -> str:
        """The http:// URL of an upstream repo."""
        return f"http://127.0.0.1:{self.port}/{up.name}"


@dataclass
class TlsFiles:
    """A throwaway CA and a server certificate it signed for 127.0.0.1 (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path, host_ip: str = "127.0.0.1") -> TlsFiles:
    """A fresh CA (valid two days) and a server key and certificate for `host_ip`, by openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    d = directory
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl(
        "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
        "-days", "2", "-subj", "/CN=gitpuppet test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", *ec, "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"),
        "-subj", f"/CN={host_ip}",
    )  # fmt: skip
    (d / "server.ext").write_text(
        f"subjectAltName=IP:{host_ip}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"),
        "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
        "-extfile", str(d / "server.ext"), "-out", str(d / "server.pem"),
    )  # fmt: skip
    return TlsFiles(d / "ca.pem", d / "server.pem", d / "server.key")


class _TlsHandler(_CgiHandler):
    def setup(self) -> None:
        # The handshake runs in this request's thread, so a client that stalls or refuses the
        # certificate never holds up the accept loop.
        self.request.do_handshake()
        super().setup()


class _TlsServer(_HttpServer):
    context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are what some tests are about


class HttpsGit(HttpGit):
    """git-http-backend behind a TLS server thread (https://127.0.0.1:PORT/NAME), with a
    certificate signed by its own throwaway CA (`tls.ca`: what a client must trust)."""

    def __init__(self, base: Path, cert_dir: Path) -> None:
        super().__init__(base)
        self.tls = make_tls(cert_dir)

    def start(self) -> None:
        """Listen on the port with TLS and serve in a thread."""
        if self.server is not None:
            return
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        server = _TlsServer(("127.0.0.1", self.port), _TlsHandler)
        server.context = context
        server.base = self.base
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, up: Upstream) -> str:
        """The https:// URL of an upstream repo."""
        return f"https://127.0.0.1:{self.port}/{up.name}"


class CountingProxy:
    """127.0.0.1:port forwarding to the port `target`, counting connections and bytes both ways
    (`reset()` between measurements). With `target` None it is a blackhole: it accepts and
    never answers (`close()` ends those connections)."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.sock.getsockname()[1]
        self.up = self.down = self.connections = 0
        self.held: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.up = self.down = self.connections = 0

    @property
    def total(self) -> int:
        return self.up + self.down

    def close(self) -> None:
        self.sock.close()
        for held in self.held:
            held.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            if self.target is None:
                self.held.append(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:  # the server is gone (stopping): this client is refused, not all
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, way: str) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                with self.lock:
                    setattr(self, way, getattr(self, way) + len(data))
        except OSError:
            pass
        finally:
            for end in (src, dst):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def dir_size(path: Path) -> int:
    """Bytes used by the files under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
