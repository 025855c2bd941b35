"""`gitpuppet webhook`: a real listener on 127.0.0.1, real HTTP requests, real runs.

Each test starts the real command (`python -m gitpuppet.cli webhook`) on a free port against a
bare control repo served over file://. Its catalog is one exec that logs `start` and `end` around
a short sleep, so the log shows every run and whether two ever overlapped.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitpuppet.agent.webhook import body_hmac, github_signature

SECRET = "correct horse battery staple"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """The git CLI, to build fixtures only (the product never shells out to git)."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


class Node:
    """A control repo with a logging exec, a node config, a secret, and the running listener."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bare = tmp / "control.git"
        self.work = tmp / "work"
        self.log = tmp / "runs.log"
        self.state = tmp / "state"
        self.config = tmp / "config.yaml"
        self.secret = tmp / "webhook.secret"
        subprocess.run(
            ["git", "init", "-q", "--bare", "-b", "production", str(self.bare)], check=True
        )
        subprocess.run(["git", "init", "-q", "-b", "production", str(self.work)], check=True)
        git(self.work, "remote", "add", "origin", str(self.bare))
        (tmp / "facts.d").mkdir()
        self.config.write_text(
            f"repo: file://{self.bare}\nbranch: production\nnode_name: t.example.com\n"
            f"state_dir: {self.state}\nrun_dir: {tmp / 'run'}\nfacts_d: {tmp / 'facts.d'}\n"
            "interval: 2h\nsplay: 1h\n"  # a webhook run must not wait for the splay
        )
        self.secret.write_text(SECRET + "\n")
        self.secret.chmod(0o600)
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.url = ""

    def push(self, label: str, sleep: float = 0.6) -> str:
        (self.work / "nodes.yaml").write_text("t.example.com:\n  classes: [main]\n")
        (self.work / "classes").mkdir(exist_ok=True)
        script = f"echo start {label} >> {self.log}; sleep {sleep}; echo end {label} >> {self.log}"
        (self.work / "classes/main.yaml").write_text(
            f"resources:\n  - exec: {json.dumps(script)}\n    shell: true\n"
        )
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", f"commit {label}")
        git(self.work, "push", "-q", "origin", "production")
        return git(self.work, "rev-parse", "HEAD")

    def start(self, *extra: str) -> None:
        argv = [sys.executable, "-m", "gitpuppet.cli", "webhook", "--listen", "127.0.0.1:0"]
        argv += ["--secret-file", str(self.secret), "--config", str(self.config), *extra]
        self.proc = subprocess.Popen(
            argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for stream in (self.proc.stderr, self.proc.stdout):
            threading.Thread(target=self._collect, args=(stream,), daemon=True).start()
        self.wait_for("listening on ", timeout=20)
        line = next(x for x in self.lines if "listening on " in x)
        self.url = line.split("listening on ", 1)[1].split(";", 1)[0]

    def _collect(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.output().count(needle) < count:
            if self.proc is not None and self.proc.poll() is not None:
                time.sleep(0.2)  # let the readers drain what it printed before it died
                if self.output().count(needle) >= count:
                    return
                raise AssertionError(f"webhook exited {self.proc.returncode}:\n{self.output()}")
            assert time.monotonic() < deadline, f"{needle!r} x{count} not seen:\n{self.output()}"
            time.sleep(0.05)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # this test's own child, by its Popen handle
            self.proc.wait(10)
            return None

    def runs(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def applied(self) -> str | None:
        path = self.state / "state.json"
        if not path.exists():
            return None
        return json.loads(path.read_text()).get("applied_commit")


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def push_body(ref: str = "refs/heads/production", after: str = "0" * 40, n: int = 0) -> bytes:
    return json.dumps({"ref": ref, "after": after, "n": n}).encode()


def signed(provider: str, body: bytes, secret: str = SECRET, delivery: str = "") -> dict[str, str]:
    """Headers as each provider sends them."""
    key = secret.encode()
    headers = {"Content-Type": "application/json"}
    if provider == "github":
        headers |= {"X-GitHub-Event": "push", "X-Hub-Signature-256": github_signature(key, body)}
        headers["X-GitHub-Delivery"] = delivery or f"gh-{time.monotonic_ns()}"
    elif provider == "gitea":
        mac = body_hmac(key, body)
        headers |= {"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": mac}
        headers |= {"X-Hub-Signature-256": "sha256=" + mac}
        headers["X-Gitea-Delivery"] = delivery or f"gt-{time.monotonic_ns()}"
    else:
        headers |= {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}
        headers["X-Gitlab-Event-UUID"] = delivery or f"gl-{time.monotonic_ns()}"
    return headers


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path)
    try:
        yield n
    finally:
        n.stop()


PROVIDERS = ["github", "gitea", "gitlab"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_signed_push_runs_the_branch_head_not_the_payload_commit(node: Node, provider: str) -> None:
    old = node.push("one")
    head = node.push("two")
    node.start()
    # The payload names the older commit: the run fetches and applies the branch head anyway.
    status, text = post(node.url, push_body(after=old), signed(provider, push_body(after=old)))
    assert (status, text.strip()) == (202, "push to refs/heads/production: run started")
    node.wait_for("run finished with exit code 2")
    assert node.runs() == ["start", "two", "end", "two"]
    assert node.applied() == head
    assert SECRET not in node.output()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_secret_or_no_signature_is_401_and_runs_nothing(node: Node, provider: str) -> None:
    node.push("one")
    node.start()
    body = push_body()
    assert post(node.url, body, signed(provider, body, secret="guessed"))[0] == 401
    unsigned = {k: v for k, v in signed(provider, body).items() if "Signature" not in k}
    unsigned.pop("X-Gitlab-Token", None)
    assert post(node.url, body, unsigned)[0] == 401
    refused = 2
    if provider != "gitlab":  # GitLab's token is the secret itself: it signs no body
        tampered = push_body(n=1)  # signed for another body
        assert post(node.url, tampered, signed(provider, body))[0] == 401
        refused += 1
    time.sleep(1.0)
    assert node.runs() == [] and "run finished" not in node.output()
    assert node.output().count("401 unauthorized") == refused
    assert SECRET not in node.output() and "guessed" not in node.output()


def test_other_branch_ping_and_replay_run_nothing_more(node: Node) -> None:
    node.push("one")
    node.start()
    staging = push_body(ref="refs/heads/staging")
    status, text = post(node.url, staging, signed("github", staging))
    assert status == 202 and "ignored: push to refs/heads/staging" in text
    ping = b'{"zen": "Design for failure."}'
    headers = signed("github", ping) | {"X-GitHub-Event": "ping"}
    assert post(node.url, ping, headers) == (200, "pong\n")
    body = push_body()
    first = signed("github", body, delivery="d-1")
    assert post(node.url, body, first)[0] == 202
    node.wait_for("run finished")
    # The very same request again, and the same body under a new delivery id: ignored.
    assert "already" in post(node.url, body, first)[1]
    assert "already" in post(node.url, body, signed("github", body, delivery="d-2"))[1]
    # A new body reusing the delivery id of the first: ignored too.
    other = push_body(n=9)
    assert "already" in post(node.url, other, signed("github", other, delivery="d-1"))[1]
    time.sleep(1.0)
    assert node.runs() == ["start", "one", "end", "one"]


def test_pushes_during_a_run_coalesce_into_one_more_run_never_overlapping(node: Node) -> None:
    node.push("one", sleep=1.5)
    node.start()
    assert "run started" in post(node.url, push_body(n=0), signed("github", push_body(n=0)))[1]
    deadline = time.monotonic() + 20
    while "start" not in node.runs():
        assert time.monotonic() < deadline, node.output()
        time.sleep(0.02)
    answers: list[tuple[int, str]] = []

    def send(n: int) -> None:
        answers.append(post(node.url, push_body(n=n), signed("gitea", push_body(n=n))))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(1, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert [a[0] for a in answers] == [202] * 5
    assert sum("run queued" in a[1] for a in answers) == 1
    assert sum("already queued" in a[1] for a in answers) == 4
    node.wait_for("run finished", count=2)
    time.sleep(2.5)  # a third run would have started by now
    assert node.runs() == ["start", "one", "end", "one"] * 2
    assert node.output().count("run finished") == 2


def test_two_pushes_at_once_never_overlap(node: Node) -> None:
    node.push("one", sleep=0.8)
    node.start()
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def send(n: int) -> None:
        barrier.wait()
        codes.append(post(node.url, push_body(n=n), signed("github", push_body(n=n)))[0])

    threads = [threading.Thread(target=send, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert codes == [202, 202]
    node.wait_for("run finished")
    time.sleep(2.0)
    runs = node.runs()
    # one run, or one and one more after it: starts and ends always alternate
    assert runs in (["start", "one", "end", "one"], ["start", "one", "end", "one"] * 2), runs


def test_a_run_holding_the_lock_is_waited_for(node: Node) -> None:
    node.push("one")
    node.start()
    lock = node.tmp / "run" / "run.lock"
    lock.parent.mkdir(exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a timer run in progress
        assert post(node.url, push_body(), signed("github", push_body()))[0] == 202
        node.wait_for("trying again")
        assert node.runs() == []
    finally:
        os.close(fd)
    node.wait_for("run finished with exit code 2", timeout=30)
    assert node.runs() == ["start", "one", "end", "one"]


def test_oversized_body_is_413_unread(node: Node) -> None:
    node.push("one")
    node.start()
    with socket.create_connection(_address(node), timeout=10) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n")
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.0 413")
    big = b"x" * (1024 * 1024 + 1)
    try:
        status, _ = post(node.url, big, signed("github", big))
    except (ConnectionError, urllib.error.URLError):
        status = 413  # the server answered and closed while the client still sent
    assert status == 413
    assert post(node.url, push_body(), signed("github", push_body()))[0] == 202  # still serving


def test_slow_client_is_cut_off_and_does_not_hold_the_listener(node: Node) -> None:
    node.push("one")
    node.start("--timeout", "3")
    started = time.monotonic()
    slow = socket.create_connection(_address(node), timeout=10)
    closed_after = None
    try:
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        # Meanwhile a real delivery is answered at once.
        t0 = time.monotonic()
        assert post(node.url, push_body(), signed("github", push_body()))[0] == 202
        assert time.monotonic() - t0 < 2.0  # not held until the slow one ends
        for _ in range(60):  # one header byte every 0.2 s: each read is quick, the whole is not
            try:
                slow.sendall(b"X")
                slow.settimeout(0.2)
                if slow.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
    finally:
        slow.close()
    assert closed_after is not None and 2.5 < closed_after < 6.0, closed_after


def test_a_flood_of_slow_clients_delays_a_delivery_by_one_timeout_at_most(node: Node) -> None:
    """More slow clients than MAX_CLIENTS: the extra ones are refused, the others cut off at
    the deadline, and a real delivery (retried, as a sender would) gets through after that."""
    node.push("one")
    node.start("--timeout", "2")
    started = time.monotonic()
    slow = [socket.create_connection(_address(node), timeout=10) for _ in range(40)]
    for conn in slow:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
    status = None
    while status is None and time.monotonic() - started < 8:
        try:
            status = post(node.url, push_body(), signed("github", push_body()), timeout=3)[0]
        except (ConnectionError, urllib.error.URLError, TimeoutError):
            time.sleep(0.1)
    delivered = time.monotonic() - started
    for conn in slow:
        conn.settimeout(max(0.1, 8 - (time.monotonic() - started)))
        try:
            assert conn.recv(1) == b""  # closed by the server, nothing answered
        except ConnectionResetError:
            pass
        conn.close()
    assert status == 202 and delivered < 6.0, (status, delivered)
    assert time.monotonic() - started < 8.5
    node.wait_for("run finished")


def test_method_path_and_length_are_checked(node: Node) -> None:
    node.push("one")
    node.start("--path", "/hooks/gitpuppet")
    assert node.url.endswith("/hooks/gitpuppet")
    body = push_body()
    root = node.url.rsplit("/hooks", 1)[0] + "/"
    assert post(root, body, signed("github", body))[0] == 404
    try:
        urllib.request.urlopen(node.url, timeout=10)
        raise AssertionError("GET was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 405 and exc.headers["Allow"] == "POST"
    with socket.create_connection(_address(node), timeout=10) as conn:
        conn.sendall(b"POST /hooks/gitpuppet HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.recv(4096).startswith(b"HTTP/1.0 411")
    with socket.create_connection(_address(node), timeout=10) as conn:
        conn.sendall(b"POST /\x1b[2Jfake\rline HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        assert conn.recv(4096).startswith((b"HTTP/1.0 400", b"HTTP/1.0 404"))
    assert post(node.url, body, signed("github", body))[0] == 202
    node.wait_for("run finished")
    assert "\x1b" not in node.output() and "\r" not in node.output()  # escaped in the log
    assert "Traceback" not in node.output()


def test_world_readable_secret_is_refused(node: Node) -> None:
    node.secret.chmod(0o644)
    argv = [sys.executable, "-m", "gitpuppet.cli", "webhook", "--listen", "127.0.0.1:0"]
    argv += ["--secret-file", str(node.secret), "--config", str(node.config)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert str(node.secret) in done.stderr and "every user" in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr + done.stdout


def test_sigterm_stops_cleanly(node: Node) -> None:
    node.push("one")
    node.start()
    assert node.stop() == 0
    assert "SIGTERM" in node.output()


def _address(node: Node) -> tuple[str, int]:
    host_port = node.url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    return host, int(port)
