"""Health checks: each answers ``Check(name, ok, detail)`` and never raises. Workers' readiness
probe runs the broker and database checks; ``documind health`` runs them all.

Each check has a short time budget of its own (connect timeouts), so a server that does not
answer makes the check fail instead of hanging the probe."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from typing import Callable

from documind.settings import RunMode, Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    skipped: bool = False  # not applicable here (e.g. the scheduler in embedded mode)

    def as_dict(self) -> dict:
        return asdict(self)


def _run(name: str, fn: Callable[[], str], settings: Settings) -> Check:
    try:
        return Check(name, True, fn())
    except Skipped as exc:
        return Check(name, True, str(exc), skipped=True)
    except Exception as exc:  # noqa: BLE001 - any failure is an unhealthy answer, secrets masked
        lines = str(exc).strip().splitlines()
        return Check(name, False, settings.redact(f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")))


class Skipped(Exception):
    """The check does not apply to this installation."""


def broker_check(settings: Settings, timeout_s: float = 3.0) -> Callable[[], str]:
    def check() -> str:
        if settings.mode is RunMode.EMBEDDED:
            raise Skipped("embedded mode: in-process broker")
        import redis

        client = redis.Redis.from_url(
            settings.redis_url.get_secret_value(), socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        try:
            client.ping()
        finally:
            client.close()
        return "redis answers"

    return check


def database_check(settings: Settings, timeout_s: float = 3.0, schema: bool = True) -> Callable[[], str]:
    def check() -> str:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from sqlalchemy import create_engine, pool, text

        from documind.db.migrate import alembic_config

        url = settings.effective_database_url
        args = {"connect_timeout": int(max(1, timeout_s))} if url.startswith("postgresql") else {}
        engine = create_engine(url, poolclass=pool.NullPool, connect_args=args)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                current = MigrationContext.configure(conn).get_current_revision() if schema else None
        finally:
            engine.dispose()
        if not schema:
            return "database answers"
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        if current != head:
            raise RuntimeError(f"schema at {current or 'nothing'}, this release needs {head} (run documind migrate)")
        return f"schema at {current}"

    return check


def qdrant_check(settings: Settings) -> Callable[[], str]:
    def check() -> str:
        if not settings.qdrant_url:
            # Local mode: one process may open the folder; a running search worker holds it,
            # so only its presence is checked here.
            path = settings.effective_qdrant_path
            if not path.exists():
                return f"local mode, {path} not created yet (no document indexed)"
            return f"local mode, {path}"
        from documind.vectors import build_qdrant_client

        client = build_qdrant_client(settings)
        try:
            names = [c.name for c in client.get_collections().collections]
        finally:
            client.close()
        return f"server answers, {len(names)} collection(s)"

    return check


def storage_check(settings: Settings) -> Callable[[], str]:
    def check() -> str:
        root = settings.effective_storage_dir
        probe = root if root.exists() else next((p for p in root.parents if p.exists()), root)
        free = shutil.disk_usage(probe).free
        need = settings.health_min_free_bytes
        text = f"{free / 2**30:.1f} GiB free at {probe}"
        if free < need:
            raise RuntimeError(f"{text}, below DOCUMIND_HEALTH_MIN_FREE_BYTES ({need / 2**30:.1f} GiB)")
        return text

    return check


def model_check(settings: Settings) -> Callable[[], str]:
    def check() -> str:
        from documind.embedding import packaged_encoder

        started = time.monotonic()
        encoder = packaged_encoder(settings.embedding_model, settings.encoder_backend)
        try:
            dims = encoder.encode(["health check"]).shape[1]
        except ModuleNotFoundError as exc:
            # The maintenance image has no model stack: the model is checked where it runs.
            raise Skipped(f"no model support installed here (no module {exc.name})") from None
        return f"{encoder.model_name} loads and encodes ({dims} dims, {time.monotonic() - started:.1f} s)"

    return check


def scheduler_check(settings: Settings) -> Callable[[], str]:
    def check() -> str:
        if settings.mode is RunMode.EMBEDDED:
            raise Skipped("embedded mode: no scheduler process")
        import redis

        client = redis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=3, socket_connect_timeout=3)
        try:
            raw = client.get(scheduler_heartbeat_key(settings))
        finally:
            client.close()
        if raw is None:
            raise RuntimeError("the scheduler never ticked (is `documind scheduler` running?)")
        beat = json.loads(raw)
        now = time.time()
        late = now - beat["next_tick_at"]
        if late > settings.scheduler_stale_after_s:
            raise RuntimeError(
                f"the scheduler missed its tick due {late:.0f} s ago (last ticked {now - beat['ticked_at']:.0f} s ago; "
                "bound DOCUMIND_SCHEDULER_STALE_AFTER_S)"
            )
        return f"ticked {now - beat['ticked_at']:.0f} s ago, next tick in {max(0.0, -late):.0f} s"

    return check


def scheduler_heartbeat_key(settings: Settings) -> str:
    return f"{settings.redis_namespace}:scheduler:heartbeat"


def readiness_checks(settings: Settings) -> list[tuple[str, Callable[[], str]]]:
    return [("broker", broker_check(settings)), ("database", database_check(settings, schema=False))]


def all_checks(settings: Settings, model: bool = True) -> list[tuple[str, Callable[[], str]]]:
    checks = [
        ("broker", broker_check(settings)),
        ("database", database_check(settings)),
        ("qdrant", qdrant_check(settings)),
        ("storage", storage_check(settings)),
        ("scheduler", scheduler_check(settings)),
    ]
    if model:
        checks.append(("model", model_check(settings)))
    return checks


def run_checks(settings: Settings, checks: list[tuple[str, Callable[[], str]]]) -> list[Check]:
    return [_run(name, fn, settings) for name, fn in checks]
