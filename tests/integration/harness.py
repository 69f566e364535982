"""Real stacks for integration tests: the ``documind`` CLI run as a subprocess against either
the embedded mode (SQLite, Qdrant local, in-process workers) or the distributed mode (the
machine's real Postgres and Redis, one real worker process per service)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[2]
DOCUMIND = str(Path(sys.executable).with_name("documind"))
PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
SERVICES = ("ingest", "embed", "search", "maintenance", "validate")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Stack:
    mode: str
    root: Path
    env: dict[str, str]
    workers: list[subprocess.Popen] = field(default_factory=list)

    def cli(self, *args: str, check: bool = True, timeout: float = 1500) -> CliResult:
        proc = subprocess.run(
            [DOCUMIND, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"documind {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
                f"stderr:\n{proc.stderr[-5000:]}\n{self.worker_logs()}"
            )
        return result

    def ingest(self, *paths: Path | str, extra: tuple[str, ...] = ()) -> list[dict]:
        """Ingest and wait; exit code 3 (some failed) is a normal outcome here."""
        res = self.cli("ingest", *map(str, paths), "--wait", "--json", *extra, check=False)
        if res.code not in (0, 3):
            raise AssertionError(f"ingest exited {res.code}: {res.stderr[-4000:]}\n{self.worker_logs()}")
        return res.json()

    def search(self, query: str, top_k: int = 5, *extra: str) -> list[dict]:
        return self.cli("search", query, "--top-k", str(top_k), "--json", *extra).json()["hits"]

    def status(self, doc_id: str) -> dict:
        return self.cli("status", doc_id, "--json").json()

    def sql(self, query: str) -> list[tuple]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["DOCUMIND_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(query))]
        finally:
            engine.dispose()

    def execute(self, statement: str) -> None:
        """Run one SQL statement in its own committed transaction (a test's deliberate damage)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["DOCUMIND_DATABASE_URL"])
        try:
            with engine.begin() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def worker_logs(self) -> str:
        out = []
        for log in sorted((self.root / "logs").glob("*.log")):
            out.append(f"--- {log.name} (tail) ---\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)

    # ---- distributed workers ---------------------------------------------------------------
    def _spawn(self, svc: str) -> subprocess.Popen:
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        alive = self.root / f"{svc}.alive"
        alive.unlink(missing_ok=True)
        env = dict(self.env, DOCUMIND_LIVENESS_FILE=str(alive))
        return subprocess.Popen(
            [DOCUMIND, "worker", svc, "--processes", "1", "--threads", "2"],
            env=env, cwd=self.root,
            stdout=(logs / f"{svc}.log").open("a"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def restart_worker(self, svc: str) -> None:
        i = SERVICES.index(svc)
        old = self.workers[i]
        if old.poll() is None:
            os.killpg(old.pid, signal.SIGKILL)
            old.wait()
        self.workers[i] = self._spawn(svc)
        self._wait_alive([svc])

    def respawn(self, svc: str) -> None:
        """Start a dead worker again without waiting for it to come up (a supervisor's
        restart: it may not get far while a server it needs is down)."""
        self.workers[SERVICES.index(svc)] = self._spawn(svc)

    def start_workers(self) -> None:
        self.workers = [self._spawn(svc) for svc in SERVICES]
        self._wait_alive(list(SERVICES))

    def _wait_alive(self, services: list[str]) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if all((self.root / f"{s}.alive").exists() for s in services):
                return
            # Only those starting: another may be stopped on purpose (nested ``paused``).
            dead = [s for s in services if self.workers[SERVICES.index(s)].poll() is not None]
            if dead:
                raise RuntimeError(f"a worker exited at start-up\n{self.worker_logs()}")
            time.sleep(0.1)  # a few stat calls: cheap, and every stack start and restart waits here
        raise RuntimeError(f"workers did not come up in 180 s\n{self.worker_logs()}")

    @contextlib.contextmanager
    def paused(self, svc: str) -> Iterator[None]:
        """Stop one service's worker for the block (e.g. to open the Qdrant local folder the
        search worker owns), then start it again."""
        i = SERVICES.index(svc)
        w = self.workers[i]
        os.killpg(w.pid, signal.SIGTERM)
        w.wait(timeout=60)
        try:
            yield
        finally:
            self.workers[i] = self._spawn(svc)
            self._wait_alive([svc])

    def stop_workers(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                try:
                    os.killpg(w.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for w in self.workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
        self.workers.clear()


def base_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCUMIND_")}
    env.update(
        DOCUMIND_DATA_DIR=str(root / "data"),
        DOCUMIND_LOG_JSON="true",
        # Small page ranges, so multi-page PDFs in the tests really take the multi-range path.
        DOCUMIND_INGEST_PAGES_PER_RANGE="2",
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DO_NOT_TRACK="true",
        # Workers' probe servers off: concurrent stacks on one machine would contend for one
        # port (tests/integration/test_monitoring.py and the unit tests exercise the probes).
        DOCUMIND_HEALTH_PORT="0",
    )
    return env


def embedded_stack(root: Path) -> Stack:
    env = base_env(root)
    env.update(DOCUMIND_MODE="embedded")
    env["DOCUMIND_DATABASE_URL"] = f"sqlite:///{root / 'data' / 'documind.db'}"
    return Stack("embedded", root, env)


def create_database() -> str:
    from sqlalchemy import create_engine, text

    name = f"documind_it_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name


def pg_url(name: str) -> str:
    """The URL of database ``name`` on the machine's Postgres."""
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


@contextlib.contextmanager
def migrated_database() -> Iterator[str]:
    """A fresh database on the machine's Postgres at the latest revision: its URL; dropped after."""
    from documind.db.migrate import upgrade

    name = create_database()
    try:
        url = pg_url(name)
        upgrade(url)
        yield url
    finally:
        drop_database(name)


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def distributed_env(
    root: Path, redis_db: int = 0, *, database_url: str | None = None, redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[dict[str, str], str | None]:
    """The environment of a distributed stack: a fresh database on the machine's Postgres and a
    namespace on its Redis, or the given servers (a test that kills its own servers passes
    their URLs; the returned database name is then None: nothing for ``teardown`` to drop on
    the shared Postgres)."""
    db = None if database_url else create_database()
    env = base_env(root)
    env.update(
        DOCUMIND_MODE="distributed",
        DOCUMIND_DATABASE_URL=database_url or pg_url(db),
        DOCUMIND_REDIS_URL=redis_url or f"redis://127.0.0.1:6379/{redis_db}",
        # A namespace of its own, so concurrent test runs sharing this Redis never meet.
        DOCUMIND_REDIS_NAMESPACE=db or f"documind_it_{uuid.uuid4().hex[:10]}",
        DOCUMIND_QDRANT_PATH=str(root / "qdrant"),
        DOCUMIND_MIN_BACKOFF_MS="200",
    )
    env.update(extra_env or {})
    return env, db


def distributed_stack(
    root: Path, redis_db: int = 0, *, database_url: str | None = None, redis_url: str | None = None,
    extra_env: dict[str, str] | None = None, workers: bool = True,
) -> tuple[Stack, str | None]:
    """A migrated ``distributed_env`` with one worker process per service (``workers=False``:
    none, for a test that starts its own processes or needs only the CLI)."""
    env, db = distributed_env(root, redis_db, database_url=database_url, redis_url=redis_url, extra_env=extra_env)
    stack = Stack("distributed", root, env)
    stack.cli("migrate")
    if workers:
        try:
            stack.start_workers()
        except BaseException:
            stack.stop_workers()  # the ones that did start must not outlive a failed set-up
            raise
    return stack, db


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``documind ARGS`` as a process group of its own, its output appended to ``log``."""
    with log.open("a") as fh:
        return subprocess.Popen([DOCUMIND, *args], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def drop_redis_namespace(url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def teardown(stack: Stack, db: str | None) -> None:
    stack.stop_workers()
    if db:
        drop_database(db)
        drop_redis_namespace(stack.env["DOCUMIND_REDIS_URL"], db)
    shutil.rmtree(stack.root, ignore_errors=True)


@contextlib.contextmanager
def mode_stack(mode: str, prefix: str, redis_db: int) -> Iterator[Stack]:
    """A stack of ``mode`` ("embedded" or "distributed") in a fresh folder, torn down after:
    what every fixture parametrized over both modes yields."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix=f"documind-{prefix}-{mode}-"))
    if mode == "embedded":
        s, db = embedded_stack(root), None
    else:
        s, db = distributed_stack(root, redis_db=redis_db)
    try:
        yield s
    finally:
        teardown(s, db)


def wait_for(fetch: "Any", ok: "Any", timeout: float = 180.0, interval: float = 0.5) -> Any:
    """``fetch()`` until ``ok`` accepts its value or ``timeout`` passes; the last value (the
    caller's assertion then says what was wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)
