"""The chaos run (issue 10): a real distributed stack on a Redis server and a Postgres cluster
of its own, fed a mixed set of documents while a chaos thread SIGKILLs random workers, kills
Redis (no persistence: its queues are lost) and stops Postgres; a supervisor restarts dead
workers, the watchdog (``documind recover``) runs every few seconds with a ``stale_after_s``
shorter than the backlog. Then every outcome is checked through real queries.

Used by tests/integration/test_chaos.py (short form) and bench/chaos.py (long form)."""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from tests.integration.chaos_corpus import EXPECTED_ERRORS, make_corpus
from tests.integration.harness import SERVICES, Stack, distributed_stack
from tests.integration.own_servers import PostgresCluster, RedisServer

FINAL = ("completed", "failed")


@dataclass
class ChaosPlan:
    docs: int = 60
    batches: int = 3  # the first before the chaos, the others during it
    chaos_s: float = 80  # how long workers are killed
    kill_every_s: tuple[float, float] = (4.0, 8.0)
    redis_kill_at_s: float = 25
    # Set: Redis is killed ``redis_kill_delay_s`` after this batch's ingest returned, instead of
    # at ``redis_kill_at_s``, so its queues surely hold that batch's messages when they are lost
    # (at a fixed time a fast pipeline may have emptied them already).
    redis_kill_after_batch: int | None = None
    redis_kill_delay_s: float = 1.0
    # After the last batch is ingested, the embed worker is stopped (SIGSTOP) this long: that
    # batch waits in the broker longer than ``stale_after_s``, and the watchdog must leave it
    # alone (it is waiting, not stuck). 0: no stall.
    stall_s: float = 0
    pg_stop_at_s: float = 45
    pg_stop_s: float = 15
    stale_after_s: float = 10  # shorter than the backlog: the watchdog must tell waiting from stuck
    recover_every_s: float = 3
    drain_timeout_s: float = 420
    max_backoff_ms: int = 5000  # 20 retries still outlast the Postgres stop
    seed: int = 10


@dataclass
class Tally:
    kills: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SERVICES})
    restarts: int = 0
    redriven: list[str] = field(default_factory=list)
    watchdog_failed: list[str] = field(default_factory=list)
    watchdog_runs: int = 0
    watchdog_errors: int = 0
    queued_max: int = 0  # most documents one watchdog run found stale yet waiting in the broker
    ingest_retries: int = 0
    events: list[str] = field(default_factory=list)
    redrive_log: list[dict] = field(default_factory=list)  # when the watchdog re-drove which documents


def _log(msg: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Chaos:
    def __init__(self, plan: ChaosPlan, root: Path | None = None, keep_logs: Path | None = None) -> None:
        self.plan = plan
        self.keep_logs = keep_logs  # worker, Redis and Postgres logs are copied here by close()
        self.root = root or Path(tempfile.mkdtemp(prefix="documind-chaos-"))
        self.rng = random.Random(plan.seed)
        self.tally = Tally()
        self.lock = threading.Lock()  # the workers list: supervisor, chaos thread, teardown
        self.stalled: str | None = None  # the service stopped by SIGSTOP right now (never killed then)
        self.stop = threading.Event()  # ends the chaos and the supervisor
        self.drained = threading.Event()  # ends the watchdog loop
        self.stack: Stack | None = None
        self.redis: RedisServer | None = None
        self.pg: PostgresCluster | None = None
        self.threads: list[threading.Thread] = []
        self.t0 = 0.0

    # ---- set-up and teardown ---------------------------------------------------------------
    def start(self) -> None:
        atexit.register(self.close)  # servers and workers go even if the caller never gets to close
        self.redis = RedisServer(self.root)
        self.redis.start()
        self.pg = PostgresCluster(self.root)
        self.pg.start()
        p = self.plan
        (self.root / "stack").mkdir()
        self.stack, _ = distributed_stack(
            self.root / "stack", database_url=self.pg.url, redis_url=self.redis.url,
            extra_env={
                "DOCUMIND_STALE_AFTER_S": str(p.stale_after_s),
                "DOCUMIND_HEARTBEAT_INTERVAL_S": "1",
                "DOCUMIND_MAX_BACKOFF_MS": str(p.max_backoff_ms),
            },
        )

    def close(self) -> None:
        atexit.unregister(self.close)
        self.stop.set()
        self.drained.set()
        for t in self.threads:
            t.join(timeout=120)
        with self.lock:
            if self.stack is not None:
                self.stack.stop_workers()
        self._keep_logs()
        for server in (self.redis, self.pg):
            if server is not None:
                try:
                    server.close()
                except Exception as exc:  # noqa: BLE001 - clean up the rest regardless
                    _log(f"cleanup: {exc}")
        shutil.rmtree(self.root, ignore_errors=True)

    def _keep_logs(self) -> None:
        if self.keep_logs is None:
            return
        self.keep_logs.mkdir(parents=True, exist_ok=True)
        logs = [*(self.root / "stack" / "logs").glob("*.log"), self.root / "redis.log"]
        if self.pg is not None:
            logs.append(self.pg.data / "server.log")
        for log in logs:
            if log.exists():
                shutil.copy(log, self.keep_logs / (log.name if log.name != "server.log" else "postgres.log"))

    # ---- the threads ---------------------------------------------------------------------------
    def _thread(self, fn: Callable[[], None], name: str) -> None:
        def guarded() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - recorded, and the outcome checks will fail
                self.tally.events.append(f"{name} thread crashed: {type(exc).__name__}: {exc}")
                _log(self.tally.events[-1])

        t = threading.Thread(target=guarded, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def _elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _supervise(self) -> None:
        """Restart any worker that died (killed by us, or fell over during an outage)."""
        assert self.stack is not None
        spawned = {s: 0.0 for s in SERVICES}
        while not self.stop.is_set():
            with self.lock:
                for i, svc in enumerate(SERVICES):
                    # Not more often than every 3 s: a worker that cannot start while Postgres
                    # is down would otherwise be respawned (torch imported) twice a second.
                    if self.stack.workers[i].poll() is not None and time.monotonic() - spawned[svc] >= 3:
                        self.stack.respawn(svc)
                        spawned[svc] = time.monotonic()
                        self.tally.restarts += 1
            self.stop.wait(0.5)

    def _kill_one(self) -> None:
        assert self.stack is not None
        with self.lock:
            # Only workers that finished booting: a worker killed in every start-up never works.
            # Not a stalled one: its stall must last.
            up = [s for i, s in enumerate(SERVICES)
                  if self.stack.workers[i].poll() is None and (self.stack.root / f"{s}.alive").exists()
                  and s != self.stalled]
            if not up:
                return
            svc = self.rng.choice(up)
            w = self.stack.workers[SERVICES.index(svc)]
            try:
                os.killpg(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            w.wait()
        self.tally.kills[svc] += 1
        _log(f"t={self._elapsed():.0f}s SIGKILL {svc}")

    def _kill_redis(self) -> None:
        assert self.redis is not None
        self.redis.kill()
        _log(f"t={self._elapsed():.0f}s SIGKILL redis (queues lost)")
        time.sleep(2)
        self.redis.start()
        _log(f"t={self._elapsed():.0f}s redis back, empty")

    def _stall(self, svc: str) -> None:
        assert self.stack is not None
        with self.lock:
            self.stalled = svc
            w = self.stack.workers[SERVICES.index(svc)]
            os.killpg(w.pid, signal.SIGSTOP)
        _log(f"t={self._elapsed():.0f}s SIGSTOP {svc} for {self.plan.stall_s:.0f}s")
        time.sleep(self.plan.stall_s)
        with self.lock:
            self.stalled = None  # first: a worker gone meanwhile must not stay exempt from kills
            try:
                os.killpg(w.pid, signal.SIGCONT)
            except ProcessLookupError:
                return
        _log(f"t={self._elapsed():.0f}s SIGCONT {svc}")

    def _stop_postgres(self) -> None:
        assert self.pg is not None
        _log(f"t={self._elapsed():.0f}s postgres stopped (immediate) for {self.plan.pg_stop_s:.0f}s")
        self.pg.outage(self.plan.pg_stop_s)
        _log(f"t={self._elapsed():.0f}s postgres back")

    def _chaos(self) -> None:
        p = self.plan
        pending = [(p.pg_stop_at_s, None)]
        if p.redis_kill_after_batch is None:
            pending.append((p.redis_kill_at_s, self._kill_redis))
        next_kill = self.rng.uniform(*p.kill_every_s)
        while not self.stop.is_set() and self._elapsed() < p.chaos_s:
            now = self._elapsed()
            for at, fn in list(pending):
                if now >= at:
                    pending.remove((at, fn))
                    if fn is None:  # the outage blocks: kills go on meanwhile
                        self._thread(self._stop_postgres, "postgres-outage")
                    else:
                        fn()
            if now >= next_kill:
                self._kill_one()
                next_kill = now + self.rng.uniform(*p.kill_every_s)
            self.stop.wait(0.25)

    def _watchdog(self) -> None:
        assert self.stack is not None
        t = self.tally
        while not self.drained.is_set():
            try:
                res = self.stack.cli("recover", "--json", "--timeout", "30", check=False, timeout=90)
            except subprocess.TimeoutExpired:
                res = None
            self.tally.watchdog_runs += 1
            if res is not None and res.code == 0:
                out = json.loads(res.stdout)
                self.tally.redriven += out.get("redriven", [])
                self.tally.watchdog_failed += out.get("failed", [])
                self.tally.queued_max = max(self.tally.queued_max, len(out.get("queued", [])))
                if out.get("redriven") or out.get("failed"):
                    t.redrive_log.append({"t": round(self._elapsed()), "redriven": out["redriven"], "failed": out["failed"]})
                    _log(f"t={self._elapsed():.0f}s watchdog: redriven {len(out['redriven'])} failed {len(out['failed'])}")
            else:
                self.tally.watchdog_errors += 1  # Redis or Postgres down, or the worker restarting
            self.drained.wait(self.plan.recover_every_s)

    # ---- the run ---------------------------------------------------------------------------
    def _ingest(self, folder: Path) -> None:
        """``documind ingest`` itself fails while Redis or Postgres is down: retry it (a
        re-run registers nothing twice; what it registered but could not send is the
        watchdog's)."""
        assert self.stack is not None
        deadline = time.monotonic() + 300
        while True:
            try:
                res = self.stack.cli("ingest", str(folder), "--json", check=False, timeout=120)
                if res.code == 0:
                    return
                why = res.stderr[-3000:]
            except subprocess.TimeoutExpired:
                why = "timed out"  # hung on a server that went away
            if time.monotonic() > deadline:
                raise AssertionError(f"ingest of {folder.name} kept failing: {why}")
            self.tally.ingest_retries += 1
            time.sleep(2)

    def _sql(self, query: str, timeout: float = 120) -> list[tuple]:
        assert self.stack is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.stack.sql(query)
            except Exception:  # noqa: BLE001 - Postgres may be stopped right now
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def run(self) -> dict[str, Any]:
        p = self.plan
        wall = time.monotonic()
        corpus = self.root / "corpus"
        expected = make_corpus(corpus / "all", p.docs, seed=p.seed)
        names = sorted(expected)
        self.rng.shuffle(names)
        batches = [corpus / f"batch-{b}" for b in range(p.batches)]
        for b, folder in enumerate(batches):
            folder.mkdir()
            for name in names[b :: p.batches]:
                (corpus / "all" / name).rename(folder / name)
        self.start()
        assert self.stack is not None
        _log(f"stack up in {time.monotonic() - wall:.0f}s; {len(expected)} documents in {p.batches} batches")
        self._ingest(batches[0])
        self.t0 = time.monotonic()
        self._thread(self._supervise, "supervisor")
        self._thread(self._chaos, "chaos")
        self._thread(self._watchdog, "watchdog")
        for b, folder in enumerate(batches[1:], 1):
            at = p.chaos_s * b / p.batches
            time.sleep(max(0.0, at - self._elapsed()))
            self._ingest(folder)
            _log(f"t={self._elapsed():.0f}s batch {b} ingested")
            if b == p.redis_kill_after_batch:
                time.sleep(p.redis_kill_delay_s)
                self._thread(self._kill_redis, "redis-kill")
            if b == p.batches - 1 and p.stall_s > 0:
                self._thread(lambda: self._stall("embed"), "stall")
        limit = p.chaos_s + p.pg_stop_s + 180
        while self._elapsed() < limit and (
            self._elapsed() < p.chaos_s or any(t.name == "postgres-outage" and t.is_alive() for t in self.threads)
        ):
            time.sleep(0.5)
        chaos_end = time.monotonic()
        drain = self._drain(len(expected))
        self.drained.set()  # no watchdog runs while the outcome is read; the supervisor goes on
        report = self._outcome(expected)
        self.stop.set()
        report.update(
            drain_s=round(time.monotonic() - chaos_end, 1), drained=drain, wall_s=round(time.monotonic() - wall, 1),
            plan=asdict(p),
        )
        return report

    def _drain(self, n: int) -> bool:
        """Wait (bounded) until every document is final; the supervisor and watchdog go on."""
        deadline = time.monotonic() + self.plan.drain_timeout_s
        last = None
        while time.monotonic() < deadline:
            rows = self._sql("SELECT status, count(*) FROM documents GROUP BY status ORDER BY 1")
            if rows != last:
                _log(f"t={self._elapsed():.0f}s {dict(rows)}")
                last = rows
            if sum(c for s, c in rows if s in FINAL) >= n and all(s in FINAL for s, _ in rows):
                return True
            time.sleep(2)
        return False

    def _json_cli(self, *args: str) -> Any:
        """A CLI call's JSON (exit 1 of ``index check`` still prints it); three tries, since a
        worker the last kill hit may still be starting."""
        assert self.stack is not None
        res = None
        for _ in range(3):
            try:
                res = self.stack.cli(*args, check=False, timeout=700)
                return json.loads(res.stdout)
            except (ValueError, subprocess.TimeoutExpired):
                time.sleep(5)
        raise AssertionError(f"documind {' '.join(args)} gave no JSON: {res and res.stderr[-3000:]}")

    def _outcome(self, expected: dict[str, str]) -> dict[str, Any]:
        assert self.stack is not None and self.redis is not None and self.pg is not None
        rows = self._sql("SELECT source_name, status, error, chunk_count, id FROM documents")
        by_name: dict[str, list[tuple]] = {}
        for r in rows:
            by_name.setdefault(r[0], []).append(r)
        missing_docs = sorted(set(expected) - set(by_name))
        duplicate_docs = sorted(n for n, rs in by_name.items() if len(rs) > 1)
        stuck = sorted(r[0] for r in rows if r[1] not in FINAL)
        # Failed for the wrong reason counts too (a crash loop's "gave up after ..." on a bad input).
        wrong = {r[0]: {"status": r[1], "expected": expected.get(r[0]), "error": r[2]}
                 for r in rows if r[1] in FINAL and (r[1] != expected.get(r[0]) or (
                     r[1] == "failed" and EXPECTED_ERRORS.get(r[0], "?") not in (r[2] or "").lower()))}
        short_chunks = self._sql(
            "SELECT d.source_name, d.chunk_count, count(c.id) FROM documents d "
            "LEFT JOIN chunks c ON c.document_id = d.id AND c.generation = d.generation "
            "AND c.indexed_at IS NOT NULL WHERE d.status = 'completed' "
            "GROUP BY d.id, d.source_name, d.chunk_count HAVING count(c.id) <> coalesce(d.chunk_count, -1)"
        )
        other_gen = self._sql(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.generation <> d.generation"
        )[0][0]
        chunks = self._sql(
            "SELECT coalesce(sum(chunk_count), 0) FROM documents WHERE status = 'completed'"
        )[0][0]
        index = self._json_cli("index", "check", "--json", "--timeout", "600")
        dead = self._json_cli("dead-letters", "list", "--all", "--json")
        t = self.tally
        report = {
            "documents": len(expected),
            "completed": sum(1 for r in rows if r[1] == "completed"),
            "failed": sum(1 for r in rows if r[1] == "failed"),
            "expected_failed": sum(1 for s in expected.values() if s == "failed"),
            "chunks": int(chunks),
            "points": index.get("points_scanned"),
            "kills": sum(t.kills.values()),
            "kills_by_service": t.kills,
            "restarts": t.restarts,
            "redis_kills": self.redis.kills,
            "postgres_stops": self.pg.stops,
            "postgres_stopped_s": round(self.pg.stopped_s, 1),
            "watchdog_runs": t.watchdog_runs,
            "watchdog_errors": t.watchdog_errors,
            "watchdog_queued_max": t.queued_max,
            "redrives": len(t.redriven),
            "redriven_documents": len(set(t.redriven)),
            "watchdog_failed": len(t.watchdog_failed),
            "ingest_retries": t.ingest_retries,
            "dead_letters": len(dead),
            "lost": len(missing_docs) + len(short_chunks) + index.get("missing", {}).get("count", 0),
            "duplicated": len(duplicate_docs) + other_gen + index.get("extra", {}).get("count", 0),
            "stale_points": index.get("stale", {}).get("count", 0),
            "stuck": len(stuck),
            "failed_by_chaos": len(wrong),
            "details": {
                "missing_documents": missing_docs, "duplicate_documents": duplicate_docs, "stuck": stuck,
                "wrong_status": wrong, "chunk_mismatch": [list(r) for r in short_chunks],
                "index_check": {k: index.get(k) for k in ("clean", "missing", "extra", "stale", "points_scanned",
                                                           "chunks_expected")},
                "dead_letters": dead, "events": t.events, "redrives": t.redrive_log,
            },
        }
        if report["stuck"] or report["lost"] or report["duplicated"] or report["failed_by_chaos"]:
            report["details"]["worker_logs"] = self.stack.worker_logs()  # the folder goes with close()
        return report
