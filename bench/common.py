"""Shared pieces of the benchmark suite: progress output, statistics, scratch databases and
Redis dbs, the distributed stack (``documind worker`` subprocesses against a per-run Postgres
database and Redis db), worker-process memory and CPU readings, and the test data (corpus
file lists, SciFact read from ``../shared`` beside the checkout; never copied into the
repository; where it is absent, the measurements that read it are skipped, saying so).

Nothing here imports torch or unstructured at module level: the orchestrating process stays
light, and each measurement pays for what it loads."""

from __future__ import annotations

import atexit
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
SCRATCH = BENCH / "out"
RESULTS = BENCH / "results"
SHARED = Path(os.environ.get("DOCUMIND_BENCH_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
SCIFACT = SHARED / "datasets" / "scifact"
DOCUMIND = str(Path(sys.executable).with_name("documind"))
PG_HOST = os.environ.get("DOCUMIND_BENCH_PG", "postgres@127.0.0.1:5432")
PG_ADMIN = f"postgresql+psycopg2://{PG_HOST}/postgres"
REDIS_HOST = os.environ.get("DOCUMIND_BENCH_REDIS", "127.0.0.1:6379")
DB_PREFIX = "documind_bench_"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "true",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
}
# Redis db numbers of the suite (the integration tests use 13 and 14). Each is flushed
# before and after use, never any other.
REDIS_DBS = {"search_cache": 6, "embed": 7, "queue": 8, "ingest": 9, "scaling": 10}
# The four largest corpus files (minutes each); quick mode leaves them out.
LARGE_FILES = ("DA-619p.pdf", "handbook-872p.docx", "book-war-and-peace-1225p.txt", "example-10k.html")

for _k, _v in OFFLINE.items():
    os.environ.setdefault(_k, _v)


# ---- progress -----------------------------------------------------------------------------
_T0 = time.monotonic()


def log(msg: str) -> None:
    """Progress on stderr, with the time since the run started."""
    el = time.monotonic() - _T0
    print(f"[bench {int(el) // 60:02d}:{el % 60:04.1f}] {msg}", file=sys.stderr, flush=True)


# ---- statistics ---------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default), ``q`` in 0..100."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def summary(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"n": 0}
    r = lambda v: None if v is None else round(v, digits)  # noqa: E731
    return {
        "n": len(xs),
        "min": r(min(xs)),
        "p50": r(percentile(xs, 50)),
        "p95": r(percentile(xs, 95)),
        "p99": r(percentile(xs, 99)),
        "max": r(max(xs)),
        "mean": r(sum(xs) / len(xs)),
    }


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, digits)


def rnd(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(float(v), digits)


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


class Timer:
    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb() -> float:
    """Peak RSS of this process's own address space (VmHWM). Not ``ru_maxrss``: Linux carries
    that across exec, so a child of a large bench process would report its parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status")


def utcnow_naive() -> datetime:
    """The database's convention: naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ---- cleanup --------------------------------------------------------------------------------
class Cleanup:
    """Resources to release even when the run is interrupted (LIFO)."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def add(self, name: str, fn: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._items.append((name, fn))
        return fn

    def discard(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._items = [(n, f) for n, f in self._items if f is not fn]

    def run(self) -> None:
        while True:
            with self._lock:
                if not self._items:
                    return
                name, fn = self._items.pop()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - clean up the rest regardless
                log(f"cleanup of {name} failed: {type(exc).__name__}: {exc}")


CLEANUP = Cleanup()
atexit.register(CLEANUP.run)


def _on_signal(signum: int, _frame: object) -> None:
    log(f"signal {signum}: cleaning up")
    CLEANUP.run()
    sys.exit(128 + signum)


def install_signal_handlers() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)


# ---- Postgres and Redis scratch space -----------------------------------------------------------
def create_database(label: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"{DB_PREFIX}{label}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return name


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def database_url(name: str) -> str:
    return f"postgresql+psycopg2://{PG_HOST}/{name}"


def redis_url(db: int) -> str:
    return f"redis://{REDIS_HOST}/{db}"


def flush_redis(db: int) -> None:
    import redis

    host, port = REDIS_HOST.split(":")
    client = redis.Redis(host=host, port=int(port), db=db)
    try:
        client.flushdb()
    finally:
        client.close()


class ScratchDatabase:
    """A migrated Postgres database of our own, dropped on close (and at exit)."""

    def __init__(self, label: str, migrate: bool = True) -> None:
        self.name = create_database(label)
        self.url = database_url(self.name)
        self._closer = CLEANUP.add(f"database {self.name}", lambda: drop_database(self.name))
        if migrate:
            from documind.db.migrate import upgrade

            upgrade(self.url)

    def close(self) -> None:
        CLEANUP.discard(self._closer)
        drop_database(self.name)


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCUMIND_")}
    env.update(OFFLINE)
    env.update(extra or {})
    return env


# ---- processes: memory and CPU --------------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    """VmHWM / VmRSS of a process in bytes (Linux /proc)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    import psutil

    try:
        t = psutil.Process(pid).cpu_times()
        # children_*: finished subprocesses it waited for (LibreOffice, Tesseract)
        return t.user + t.system + t.children_user + t.children_system
    except psutil.Error:
        return 0.0


def has_mapped(pid: int, needle: str) -> bool:
    try:
        with open(f"/proc/{pid}/maps") as fh:
            return any(needle in line for line in fh)
    except OSError:
        return False


# ---- the distributed stack ---------------------------------------------------------------------
@dataclass
class Service:
    name: str
    processes: int
    threads: int
    popen: subprocess.Popen
    started: float
    ready_s: float | None = None

    def worker_pids(self) -> list[int]:
        """The processes that run actors: Dramatiq's master forks them (``documind worker``
        exec's into ``python -m dramatiq``, so the Popen pid is the master)."""
        import psutil

        try:
            master = psutil.Process(self.popen.pid)
            kids = [c.pid for c in master.children(recursive=False)]
        except psutil.Error:
            return []
        return kids


@dataclass
class Stack:
    """A real distributed DocuMind: Postgres database and Redis db of its own, Qdrant local
    mode in a temp folder, one ``documind worker SERVICE`` per service."""

    label: str
    redis_db: int
    extra_env: dict[str, str] = field(default_factory=dict)
    root: Path = field(init=False)
    db: ScratchDatabase | None = field(init=False, default=None)
    env: dict[str, str] = field(init=False, default_factory=dict)
    services: dict[str, Service] = field(init=False, default_factory=dict)
    _runtime: Any = field(init=False, default=None)
    _engine: Any = field(init=False, default=None)

    def start(self, services: dict[str, tuple[int, int]]) -> "Stack":
        """``services``: name -> (processes, threads)."""
        self.root = Path(tempfile.mkdtemp(prefix=f"documind-bench-{self.label}-"))
        self._closer = CLEANUP.add(f"stack {self.label}", self.stop)
        flush_redis(self.redis_db)
        self.db = ScratchDatabase(self.label)
        self.env = base_env(
            {
                "DOCUMIND_MODE": "distributed",
                "DOCUMIND_DATA_DIR": str(self.root / "data"),
                "DOCUMIND_DATABASE_URL": self.db.url,
                "DOCUMIND_REDIS_URL": redis_url(self.redis_db),
                "DOCUMIND_QDRANT_PATH": str(self.root / "qdrant"),
                "DOCUMIND_LOG_JSON": "true",
                **self.extra_env,
            }
        )
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        for name, (procs, threads) in services.items():
            self.start_service(name, procs, threads, wait=False)
        self.wait_ready(list(services))
        return self

    # ---- services ----------------------------------------------------------------------------
    def start_service(self, name: str, processes: int, threads: int, wait: bool = True) -> Service:
        alive = self.root / f"{name}.alive"
        alive.unlink(missing_ok=True)
        env = dict(self.env, DOCUMIND_LIVENESS_FILE=str(alive))
        logf = (self.root / "logs" / f"{name}.log").open("a")
        popen = subprocess.Popen(
            [DOCUMIND, "worker", name, "--processes", str(processes), "--threads", str(threads)],
            env=env, cwd=self.root, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
        )
        logf.close()
        svc = Service(name, processes, threads, popen, time.monotonic())
        self.services[name] = svc
        if wait:
            self.wait_ready([name])
        return svc

    def wait_ready(self, names: list[str], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                svc = self.services[name]
                if svc.popen.poll() is not None:
                    raise RuntimeError(f"worker {name} exited at start-up ({svc.popen.returncode})\n{self.logs(name)}")
                if (self.root / f"{name}.alive").exists() and len(svc.worker_pids()) >= svc.processes:
                    svc.ready_s = round(time.monotonic() - svc.started, 2)
                    pending.discard(name)
            time.sleep(0.3)
        if pending:
            raise TimeoutError(f"workers {sorted(pending)} not ready in {timeout:.0f} s\n{self.logs()}")

    def stop_service(self, name: str) -> None:
        svc = self.services.pop(name, None)
        if svc is None or svc.popen.poll() is not None:
            return
        try:
            os.killpg(svc.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            svc.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(svc.popen.pid, signal.SIGKILL)
            svc.popen.wait()

    def worker_pids(self, name: str) -> list[int]:
        svc = self.services.get(name)
        return svc.worker_pids() if svc else []

    def memory(self) -> dict[str, dict[str, Any]]:
        """Peak (VmHWM) and current RSS of each service's worker processes."""
        out: dict[str, dict[str, Any]] = {}
        for name, svc in self.services.items():
            procs = []
            for pid in svc.worker_pids():
                st = proc_status(pid)
                procs.append({"pid": pid, "peak_rss_mb": rnd(st.get("VmHWM", 0) / 2**20, 1),
                              "rss_mb": rnd(st.get("VmRSS", 0) / 2**20, 1)})
            master = proc_status(svc.popen.pid)
            out[name] = {
                "processes": svc.processes,
                "threads": svc.threads,
                "workers": procs,
                "peak_rss_mb_max": max((p["peak_rss_mb"] for p in procs), default=None),
                "master_peak_rss_mb": rnd(master.get("VmHWM", 0) / 2**20, 1),
            }
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user+system) used so far by each service's worker processes, and by
        the Postgres backends serving this stack's database (``postgres``; backends that
        closed in between are missed, pooled ones stay open)."""
        out = {name: round(sum(cpu_seconds(p) for p in svc.worker_pids()), 2) for name, svc in self.services.items()}
        out["postgres"] = round(self.postgres_cpu(), 2)
        return out

    def postgres_cpu(self) -> float:
        import psutil

        if self.db is None:
            return 0.0
        total = 0.0
        for proc in psutil.process_iter(["cmdline", "cpu_times"]):
            try:
                cmd = " ".join(proc.info["cmdline"] or [])
                if cmd.startswith("postgres:") and f" {self.db.name} " in f"{cmd} ":
                    t = proc.info["cpu_times"]
                    total += t.user + t.system
            except (psutil.Error, TypeError):
                continue
        return total

    def logs(self, name: str | None = None, tail: int = 3000) -> str:
        out = []
        for f in sorted((self.root / "logs").glob("*.log")):
            if name and f.stem != name:
                continue
            out.append(f"--- {f.name} (tail) ---\n{f.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)

    # ---- clients -------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 3600, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([DOCUMIND, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)
        if check and proc.returncode not in (0, 3):
            raise RuntimeError(f"documind {' '.join(args[:3])} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc

    def settings(self):  # noqa: ANN201
        from documind.settings import load_settings

        return load_settings(
            mode="distributed", data_dir=self.root / "client", database_url=self.db.url,
            redis_url=redis_url(self.redis_db), qdrant_path=self.root / "qdrant",
        )

    def runtime(self):  # noqa: ANN201
        """A client runtime in this process (bus.send / bus.call, status store)."""
        if self._runtime is None:
            from documind.runtime import build_runtime

            self._runtime = build_runtime(self.settings(), configure_logs=False)
            quiet_logs()
        return self._runtime

    def sql(self, query: str, **params: Any) -> list[tuple]:
        from sqlalchemy import create_engine, text

        if self._engine is None:
            self._engine = create_engine(self.db.url, pool_size=2)
        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]

    def stop(self) -> None:
        CLEANUP.discard(getattr(self, "_closer", None))
        for svc in self.services.values():  # all at once: cleanup should be quick when interrupted
            if svc.popen.poll() is None:
                try:
                    os.killpg(svc.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name in list(self.services):
            try:
                self.stop_service(name)
            except Exception as exc:  # noqa: BLE001
                log(f"stopping {name}: {exc}")
        if self._runtime is not None:
            try:
                self._runtime.close()
            except Exception:  # noqa: BLE001
                pass
            self._runtime = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        keep = SCRATCH / "logs" / self.label
        try:
            if (self.root / "logs").exists():
                shutil.rmtree(keep, ignore_errors=True)
                keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(self.root / "logs", keep)
        except OSError:
            pass
        if self.db is not None:
            self.db.close()
            self.db = None
        flush_redis(self.redis_db)
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- waiting on the database -----------------------------------------------------------------
    def wait_ids_final(self, ids: list[str], timeout: float, poll: float = 0.5) -> None:
        """Until every document in ``ids`` is final (one aggregate query a poll)."""
        deadline = time.monotonic() + timeout
        while True:
            final = self.sql(
                "SELECT count(*) FROM documents WHERE id = ANY(:ids) "
                "AND status IN ('completed','failed','cancelled','deleted')", ids=ids,
            )[0][0]
            if final >= len(ids):
                return
            for name, svc in self.services.items():
                if svc.popen.poll() is not None:
                    raise RuntimeError(f"worker {name} died ({svc.popen.returncode})\n{self.logs(name)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{final}/{len(ids)} documents final after {timeout:.0f} s\n{self.logs()}")
            time.sleep(poll)

    def wait_documents_final(self, tenant: str, expected: int, timeout: float, poll: float = 1.0) -> None:
        """Until ``expected`` documents of ``tenant`` are final (one aggregate query a poll)."""
        deadline = time.monotonic() + timeout
        last = -1
        while True:
            rows = self.sql(
                "SELECT count(*) FILTER (WHERE status IN ('completed','failed','cancelled','deleted')), count(*) "
                "FROM documents WHERE tenant = :t", t=tenant,
            )
            final, total = rows[0]
            if total >= expected and final >= expected:
                return
            if final != last:
                last = final
            for name, svc in self.services.items():
                if svc.popen.poll() is not None:
                    raise RuntimeError(f"worker {name} died ({svc.popen.returncode})\n{self.logs(name)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{final}/{expected} documents of {tenant} final after {timeout:.0f} s\n{self.logs()}")
            time.sleep(poll)


def quiet_logs() -> None:
    """The client runtime's structlog lines (warnings only) go to stderr like progress."""
    from documind.logging import configure_logging

    configure_logging("WARNING", json=True)


# ---- test data ---------------------------------------------------------------------------------
class DataMissing(Exception):
    """Test data a measurement reads is not on this machine: bench.run reports the
    measurement as skipped, with this message, instead of failing it."""


def require_data(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataMissing(f"{what} not found at {path} (set DOCUMIND_BENCH_SHARED to the folder that holds "
                          "corpus/ and datasets/scifact/)")
    return path


def corpus_files(exclude: Iterable[str] = ()) -> list[Path]:
    """The corpus' files as its MANIFEST lists them (not its README or licences)."""
    lines = require_data(CORPUS / "MANIFEST.tsv", "the document corpus").read_text().splitlines()[1:]
    names = [ln.split("\t")[1] for ln in lines if ln.strip()]
    skip = set(exclude)
    return [CORPUS / n for n in sorted(names) if n not in skip]


def load_scifact() -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    """corpus docs, test queries {qid: text}, test qrels {qid: {docid: grade}}."""
    docs = [json.loads(line) for line in require_data(SCIFACT / "corpus.jsonl", "the SciFact dataset").open()]
    queries = {}
    for line in (SCIFACT / "queries.jsonl").open():
        q = json.loads(line)
        queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / "test.tsv").open() as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    test_queries = {qid: queries[qid] for qid in qrels if qid in queries}
    return docs, test_queries, qrels


def scifact_subset(docs: list[dict], qrels: dict[str, dict[str, int]], n: int | None, seed: int = 5) -> list[dict]:
    """All documents (``n`` None), or every document judged relevant for a test query plus
    a seeded random sample of the others, ``n`` in all (quick mode)."""
    if not n or n >= len(docs):
        return docs
    relevant = {d for rel in qrels.values() for d in rel}
    keep = [d for d in docs if str(d["_id"]) in relevant]
    others = [d for d in docs if str(d["_id"]) not in relevant]
    random.Random(seed).shuffle(others)
    keep += others[: max(0, n - len(keep))]
    return sorted(keep, key=lambda d: str(d["_id"]))


def scifact_text(doc: dict) -> str:
    return f"{doc['title']}\n\n{doc['text']}"


def write_scifact_folder(docs: list[dict], folder: Path) -> Path:
    """One ``<_id>.txt`` per document (title, blank line, text) in a temp folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for d in docs:
        (folder / f"{d['_id']}.txt").write_text(scifact_text(d), encoding="utf-8")
    return folder


_SENT = re.compile(r"(?<=[.!?])\s+")


def first_sentence(text: str) -> str:
    """A passage's first sentence (at most 300 characters): a query that other text answers."""
    return _SENT.split(text.strip(), maxsplit=1)[0][:300]


def chunk_texts(n: int, max_chars: int = 1000, seed: int = 7) -> list[str]:
    """``n`` chunk-like texts (<= ``max_chars``, sentence boundaries) cut from SciFact
    abstracts, cycled when more are needed (with a counter so each text differs)."""
    docs, _, _ = load_scifact()
    pieces: list[str] = []
    for d in docs:
        cur = d["title"].strip()
        for sent in _SENT.split(d["text"].strip()):
            if cur and len(cur) + 1 + len(sent) > max_chars:
                pieces.append(cur)
                cur = ""
            cur = f"{cur} {sent}".strip()[:max_chars]
        if cur:
            pieces.append(cur)
    random.Random(seed).shuffle(pieces)
    out = []
    for i in range(n):
        t = pieces[i % len(pieces)]
        out.append(t if i < len(pieces) else f"{t} ({i // len(pieces)})")
    return out


WARMUP_TEXT = (
    "Warm-up document\n\nThis short document makes every worker load what it loads lazily: "
    "the extraction libraries, the sentence splitter, the tokenizer, the embedding model and "
    "the vector index. It is not part of any measurement.\n"
)


def model_path() -> Path:
    from documind.embedding import model_path as mp

    return mp("all-MiniLM-L6-v2")


def scratch_dir(name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"documind-bench-{name}-"))
    CLEANUP.add(f"dir {d}", lambda: shutil.rmtree(d, ignore_errors=True))
    return d


@dataclass
class Context:
    """What a run hands to every measurement: the mode's parameters, and a place where one
    measurement leaves a live stack or readings another can reuse (e.g. SciFact ingest ->
    search, corpus ingest -> memory)."""

    quick: bool
    params: dict[str, Any]
    selected: list[str]
    shared: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None  # time.monotonic() by which the run should end (quick mode)

    def wants(self, name: str) -> bool:
        return name in self.selected

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def timeout(self, seconds: float) -> float:
        """``seconds``, or less when the run's budget ends sooner (at least 20 s)."""
        return max(20.0, min(seconds, self.remaining()))

    def close(self, everything: bool = False) -> None:
        """Stop the stacks (``everything``: also other long-lived helpers, e.g. the baseline)."""
        for key, value in list(self.shared.items()):
            if isinstance(value, Stack) or (everything and hasattr(value, "stop")):
                try:
                    value.stop()
                except Exception as exc:  # noqa: BLE001
                    log(f"stopping {key}: {exc}")
                self.shared.pop(key, None)
