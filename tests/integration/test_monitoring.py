"""Monitoring and health against real servers and real processes: the collector's gauges
read from Redis (Dramatiq's own key layout) and Postgres, a real worker's metrics page and
probes, both metric pages checked by ``promtool check metrics``; ``documind health`` with the
broker or the database stopped."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import DOCUMIND, base_env, distributed_stack, spawn, stop, teardown
from tests.integration.own_servers import PostgresCluster, RedisServer, free_port

pytestmark = pytest.mark.integration

PROMTOOL = shutil.which("promtool")


def _get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_get(url: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            code, body = _get(url)
            if code == 200:
                return body
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout} s")
        time.sleep(0.5)


# Dramatiq's own histogram is named in milliseconds: promtool's lint (exit code 3) flags the
# unit. Not ours to rename; everything else on the page must pass, and a parse error (exit 1)
# always fails.
DRAMATIQ_LINT = 'dramatiq_message_duration_milliseconds use base unit "seconds" instead of "milliseconds"'


def _promtool(text: str, tolerated: tuple[str, ...] = ()) -> None:
    assert PROMTOOL, "promtool is missing: scripts/system-deps.sh --test installs Debian's prometheus package"
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    if proc.returncode == 3 and problems and all(p in tolerated for p in problems):
        return
    assert proc.returncode == 0, f"promtool check metrics failed:\n{proc.stdout}\n{proc.stderr}"


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture(scope="module")
def env():
    root = Path(tempfile.mkdtemp(prefix="documind-monitoring-"))
    stack, db = distributed_stack(root, 12, extra_env={"DOCUMIND_STALE_AFTER_S": "60"}, workers=False)
    try:
        yield dict(stack.env, _ROOT=str(root))
    finally:
        teardown(stack, db)


def _seed(env: dict[str, str]) -> None:
    """Messages in Dramatiq's Redis layout, through Dramatiq's own broker (no worker consumes
    these queues here), and rows in the database."""
    import redis
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from documind.db.models import DeadLetter, Document, DocumentStatus, ScheduledRun, Stage, StageName, StageState, utcnow

    broker = RedisBroker(url=env["DOCUMIND_REDIS_URL"], namespace=env["DOCUMIND_REDIS_NAMESPACE"], middleware=[])
    for q in ("ingest", "embed"):
        broker.declare_queue(q)
    old = int((time.time() - 120) * 1000)
    for i in range(3):
        broker.enqueue(Message(queue_name="ingest", actor_name="ingest.process_document", args=({"n": i},),
                               kwargs={}, options={}, message_timestamp=old + i))
    broker.enqueue(Message(queue_name="embed", actor_name="embed.embed_chunks", args=({},), kwargs={}, options={},
                           message_timestamp=old), delay=3_600_000)
    # A dead-lettered message, as Dramatiq's nack leaves it: in the .XQ sorted set.
    client = redis.Redis.from_url(env["DOCUMIND_REDIS_URL"])
    ns = env["DOCUMIND_REDIS_NAMESPACE"]
    client.zadd(f"{ns}:embed.XQ", {"dead-1": old})
    client.hset(f"{ns}:embed.XQ.msgs", "dead-1", json.dumps({"message_timestamp": old}))
    broker.close()

    engine = create_engine(env["DOCUMIND_DATABASE_URL"])
    stale = utcnow() - timedelta(seconds=600)
    with Session(engine) as s, s.begin():
        for i, st in enumerate([DocumentStatus.COMPLETED, DocumentStatus.COMPLETED, DocumentStatus.FAILED]):
            s.add(Document(tenant="default", source_name=f"d{i}.txt", status=st, storage_key=f"default/x/{i}",
                           sha256=f"{i:064x}", size_bytes=1, mime_type="text/plain"))
        stuck = Document(tenant="default", source_name="stuck.txt", status=DocumentStatus.PROCESSING,
                         storage_key="default/x/s", sha256="f" * 64, size_bytes=1, mime_type="text/plain",
                         updated_at=stale)
        s.add(stuck)
        s.flush()
        s.add(Stage(document_id=stuck.id, name=StageName.EXTRACT, state=StageState.RUNNING, heartbeat_at=stale))
        s.add(DeadLetter(message_id="m", queue="embed", actor="embed.embed_chunks", payload={}, reason="test"))
        s.add(ScheduledRun(job="maintenance.watchdog", tick=utcnow().replace(microsecond=0), message_id="m1"))
    engine.dispose()


def test_the_collector_exports_queue_backlogs_and_database_gauges(env: dict[str, str]) -> None:
    _seed(env)
    port = free_port()
    proc = spawn(["collector", "--port", str(port)], env, Path(env["_ROOT"]) / "collector.log")
    try:
        text = _wait_get(f"http://127.0.0.1:{port}/metrics", timeout=60)
    finally:
        stop(proc)
    _promtool(text)
    m = _samples(text)

    def g(name: str, **labels: str) -> float:
        return m[(name, tuple(sorted(labels.items())))]

    assert g("documind_queue_depth", queue="ingest", state="ready") == 3
    assert 119 < g("documind_queue_oldest_message_age_seconds", queue="ingest", state="ready") < 300
    assert g("documind_queue_depth", queue="embed", state="delayed") == 1
    assert g("documind_queue_oldest_message_age_seconds", queue="embed", state="delayed") > 119
    assert g("documind_queue_depth", queue="embed", state="dead") == 1
    assert g("documind_queue_oldest_message_age_seconds", queue="embed", state="dead") > 119
    assert g("documind_queue_depth", queue="search", state="ready") == 0
    assert g("documind_queue_oldest_message_age_seconds", queue="search", state="ready") == 0
    assert g("documind_documents", status="completed") == 2
    assert g("documind_documents", status="failed") == 1
    assert g("documind_documents", status="processing") == 1
    assert g("documind_documents", status="deleted") == 0
    assert g("documind_stuck_documents") == 1
    assert g("documind_dead_letter_rows") == 1
    assert abs(g("documind_scheduler_last_run_timestamp_seconds", job="maintenance.watchdog") - time.time()) < 120
    assert g("documind_collector_source_up", source="redis") == 1
    assert g("documind_collector_source_up", source="database") == 1


def test_a_worker_serves_metrics_that_promtool_accepts_and_probes_that_prove_it_consumes(env: dict[str, str]) -> None:
    metrics_port, health_port = free_port(), free_port()
    root = Path(env["_ROOT"])
    wenv = dict(env, DOCUMIND_METRICS_PORT=str(metrics_port), DOCUMIND_HEALTH_PORT=str(health_port),
                DOCUMIND_METRICS_DIR=str(root / "prom"), DOCUMIND_LIVENESS_STALE_S="5")
    proc = spawn(["worker", "maintenance", "--processes", "1", "--threads", "1"], wenv, root / "worker.log")
    try:
        live = json.loads(_wait_get(f"http://127.0.0.1:{health_port}/livez", timeout=180))
        assert live["live"] is True and live["consumers"] >= 1
        code, ready = _get(f"http://127.0.0.1:{health_port}/readyz")
        assert code == 200, ready
        assert {c["name"] for c in json.loads(ready)["checks"]} == {"broker", "database"}
        # One message through the worker, so the counters have series.
        out = subprocess.run([DOCUMIND, "recover", "--json", "--timeout", "60"], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        text = _wait_get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=60)
        _promtool(text, tolerated=(DRAMATIQ_LINT,))
        names = {name for name, _ in _samples(text)}
        assert "dramatiq_messages_total" in names
        assert any(n.startswith("documind_message_deliveries_total") for n in names)
    finally:
        stop(proc)
    assert "Traceback" not in (root / "worker.log").read_text(), (root / "worker.log").read_text()[-3000:]


def test_health_reports_a_stopped_broker_or_database_as_unhealthy() -> None:
    # Directly under /tmp: the Postgres server runs as postgres, which must reach its folder.
    tmp_path = Path(tempfile.mkdtemp(prefix="documind-health-"))
    redis_server, pg = RedisServer(tmp_path), PostgresCluster(tmp_path)
    redis_server.start()
    pg.start()
    env = base_env(tmp_path)
    env.update(DOCUMIND_MODE="distributed", DOCUMIND_DATABASE_URL=pg.url, DOCUMIND_REDIS_URL=redis_server.url,
               DOCUMIND_QDRANT_PATH=str(tmp_path / "qdrant"), DOCUMIND_HEALTH_MIN_FREE_BYTES="1")
    scheduler = None
    try:
        subprocess.run([DOCUMIND, "migrate"], env=env, check=True, capture_output=True, timeout=300)

        def health() -> tuple[int, dict]:
            p = subprocess.run([DOCUMIND, "health", "--json", "--no-model"], env=env, capture_output=True, text=True,
                               timeout=120)
            return p.returncode, {c["name"]: c for c in json.loads(p.stdout)["checks"]}

        code, checks = health()
        assert code == 1 and not checks["scheduler"]["ok"]  # no scheduler has ever ticked
        scheduler = spawn(["scheduler"], env, tmp_path / "scheduler.log")
        deadline = time.monotonic() + 120
        while (code := health()[0]) != 0 and time.monotonic() < deadline:
            time.sleep(1)
        assert code == 0, health()
        stop(scheduler)

        redis_server.kill()
        code, checks = health()
        assert code == 1
        assert not checks["broker"]["ok"] and checks["database"]["ok"]
        redis_server.start()
        pg.stop()
        code, checks = health()
        assert code == 1
        assert checks["broker"]["ok"] and not checks["database"]["ok"]
    finally:
        if scheduler is not None:
            stop(scheduler)
        redis_server.close()
        pg.close()
        shutil.rmtree(tmp_path, ignore_errors=True)
