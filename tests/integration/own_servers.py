"""A Redis server and a Postgres cluster of the test's own, on free loopback ports, that the
chaos test may kill and restart without disturbing the machine's shared ones (other tests and
engineers use those concurrently). Both are child processes; ``close`` removes everything."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


class RedisServer:
    """No persistence: a kill loses every queue, which is the point."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.root / "redis.log").open("a")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.root)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        _wait_port(self.port, 30, "redis-server")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.kills += 1

    close = kill


class PostgresCluster:
    """initdb into a temp folder owned by an unprivileged user (Postgres refuses to run as
    root, and CI runs as root), trust authentication on loopback only."""

    def __init__(self, root: Path) -> None:
        versions = sorted((p for p in PG_BIN.glob("*/bin/pg_ctl")), key=lambda p: int(p.parts[-3]))
        if not versions:
            raise RuntimeError(f"no Postgres server binaries under {PG_BIN}")
        self.bin = versions[-1].parent
        self.port = free_port()
        self.data = Path(tempfile.mkdtemp(prefix="pgdata-", dir=root))
        self.user = "postgres" if os.geteuid() == 0 else None
        self.stops = 0
        self.stopped_s = 0.0
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(root, pw.pw_uid, pw.pw_gid)  # the data folder's parent must be reachable
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} exited {proc.returncode}: {proc.stderr[-2000:]}{proc.stdout[-2000:]}")

    def start(self) -> None:
        # fsync off: the test kills the cluster, never the machine.
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-o", opts, "-w", "-t", "60", "start")
        _wait_port(self.port, 30, "postgres")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def outage(self, seconds: float) -> None:
        """Stop (as a crash would: no shutdown checkpoint) for ``seconds``, then start again."""
        t = time.monotonic()
        self.stop("immediate")
        self.stops += 1
        time.sleep(seconds)
        self.start()
        self.stopped_s += time.monotonic() - t

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except Exception:  # noqa: BLE001 - a server that is gone is what we want
                pid = (self.data / "postmaster.pid").read_text().split("\n", 1)[0]
                if pid.isdigit():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        shutil.rmtree(self.data, ignore_errors=True)
