"""Operating commands of the maintenance family: ``health``, ``collector`` (Prometheus),
``scheduler`` (periodiq), ``cleanup``, ``cache``, ``backup`` and ``restore``. The collector and the scheduler live in the maintenance service,
imported only when the command runs (this package never needs a service to import)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from documind.cli.common import EXIT_ERROR, CliError, cli_settings, print_json


def _maintenance(module: str) -> Any:
    try:
        return importlib.import_module(f"documind_maintenance.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("documind_maintenance"):
            raise CliError("the maintenance service is not installed here (pip install documind-maintenance)") from None
        raise


def _cli_logs(settings: Any) -> None:
    """Results go to stdout; logs to stderr, quiet unless they warn (as every command)."""
    import os

    from documind.logging import configure_logging

    configure_logging(os.environ.get("DOCUMIND_CLI_LOG_LEVEL", "WARNING"), settings.log_json)


# ---- health --------------------------------------------------------------------------------
@click.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
@click.option("--no-model", is_flag=True, help="skip loading the embedding model (the slowest check)")
def health(as_json: bool, no_model: bool) -> None:
    """Check the broker, the database and its schema, Qdrant, free space of the file store,
    the embedding model and the scheduler's last tick. Exit code 1 when any check fails."""
    from documind.health import all_checks, run_checks
    from documind.runtime import enforce_offline

    enforce_offline()  # the model check loads the model: offline, without progress bars
    settings = cli_settings()
    checks = run_checks(settings, all_checks(settings, model=not no_model))
    healthy = all(c.ok for c in checks)
    if as_json:
        print_json({"healthy": healthy, "checks": [c.as_dict() for c in checks]})
    else:
        for c in checks:
            mark = "skip" if c.skipped else ("ok" if c.ok else "FAIL")
            click.echo(f"{mark:<5} {c.name:<10} {c.detail}")
        click.echo("healthy" if healthy else "unhealthy")
    if not healthy:
        sys.exit(EXIT_ERROR)


# ---- collector -----------------------------------------------------------------------------
@click.command()
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="default: DOCUMIND_COLLECTOR_PORT")
def collector(port: int | None) -> None:
    """Serve Prometheus gauges read from Redis and the database (queue depth and age, dead
    letters, documents per status, stuck documents, scheduled jobs' last runs) on /metrics."""
    from documind.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_json)
    _maintenance("collector").serve(settings, port or settings.collector_port)


# ---- scheduler -----------------------------------------------------------------------------
@click.command()
def scheduler() -> None:
    """Run the periodic-job scheduler (periodiq; distributed mode). Every schedule is a
    DOCUMIND_SCHEDULE_* setting; each tick runs once even if two schedulers run."""
    from documind.runtime import build_runtime
    from documind.settings import RunMode

    settings = cli_settings()
    if settings.mode is not RunMode.DISTRIBUTED:
        raise CliError("the scheduler sends to workers through Redis: set DOCUMIND_MODE=distributed")
    schedule = _maintenance("schedule")
    worker = _maintenance("worker")
    try:
        runtime = build_runtime(settings)
    except Exception as exc:  # noqa: BLE001
        raise CliError(f"cannot start: {exc}") from None
    import redis

    from documind.health import scheduler_heartbeat_key

    worker.register(runtime)
    client = redis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=5, socket_connect_timeout=5)
    try:
        code = schedule.run_scheduler(runtime.broker, schedule.redis_beat(client, scheduler_heartbeat_key(settings)))
    finally:
        runtime.close()
    sys.exit(code)


# ---- cleanup -------------------------------------------------------------------------------
@click.command()
@click.option("--dry-run", is_flag=True, help="report what would be removed, remove nothing")
@click.option("--timeout", default=3600.0, type=float, show_default=True, help="seconds to wait for the maintenance worker")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def cleanup(dry_run: bool, timeout: float, as_json: bool) -> None:
    """Remove rows past their retention (query log, dead letters, deleted documents' rows) and
    stored files no live document references (originals, renditions, old temp files).
    Runs in the maintenance worker (in this process in embedded mode)."""
    from documind.cli.common import call_service, open_runtime
    from documind.contracts import RunCleanup

    with open_runtime(with_workers=True) as rt:
        report = call_service(rt, RunCleanup(dry_run=dry_run), timeout)
    if as_json:
        print_json(report)
        return
    verb = "would remove" if report["dry_run"] else "removed"
    rows = ", ".join(f"{name} {n}" for name, n in report["rows"].items())
    files = ", ".join(f"{kind} {n}" for kind, n in report["files"].items())
    click.echo(f"rows {verb}: {rows}")
    click.echo(f"files {verb}: {files} ({report['bytes_freed'] / 2**20:.1f} MiB)")


# ---- cache ---------------------------------------------------------------------------------
@click.group()
def cache() -> None:
    """The search-result cache: invalidate or sweep it."""


def _janitor() -> Any:
    from documind.index_versions import build_index_versions

    settings = cli_settings()
    return _maintenance("cache").build_janitor(settings, build_index_versions(settings))


@cache.command("invalidate")
@click.option("--tenant", default=None, help="only this tenant's cached answers (default: all)")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def cache_invalidate(tenant: str | None, as_json: bool) -> None:
    """Make cached search answers unreachable: one tenant's (its index version moves on) or
    every one (the cache keys are deleted)."""
    from documind.cli.common import resolve_tenant

    tenant = None if tenant is None else resolve_tenant(tenant)
    outcome = _janitor().invalidate(tenant)
    if as_json:
        print_json(outcome)
    elif tenant:
        click.echo(f"cached answers of tenant {tenant} invalidated (index version {outcome['index_version']})")
    else:
        click.echo(outcome.get("note") or f"{outcome['removed']} cached answers removed")


@cache.command("sweep")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def cache_sweep(as_json: bool) -> None:
    """Remove cache entries that would never expire (Redis expires the others itself)."""
    outcome = _janitor().sweep()
    if as_json:
        print_json(outcome)
    else:
        click.echo(outcome.get("note") or f"scanned {outcome['scanned']} entries, removed {outcome['removed']}")


# ---- backup / restore ----------------------------------------------------------------------
@click.command()
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder to write into (default: DOCUMIND_BACKUP_DIR)")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def backup(dest: Path | None, as_json: bool) -> None:
    """Write a backup (database, index, stored files, manifest with checksums) and keep only the
    newest DOCUMIND_BACKUP_KEEP in the folder. Runs here: pg_dump, the file store and (local
    mode) the Qdrant folder must be reachable from this machine."""
    backups = _maintenance("backup")
    settings = cli_settings()
    _cli_logs(settings)
    try:
        outcome = backups.Backups(settings).backup(dest)
    except backups.BackupError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        print_json(outcome)
    else:
        click.echo(f"backup written: {outcome['path']} ({outcome['files']} files, {outcome['bytes'] / 2**20:.1f} MiB)")
        for old in outcome["rotated"]:
            click.echo(f"removed old backup {old}")


@click.command()
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def restore(backup_dir: Path, as_json: bool) -> None:
    """Restore BACKUP_DIR into an empty installation (an empty database, file store and
    index). Refuses a backup whose files do not match its checksums or whose schema revision
    is not this release's. Stop the workers first."""
    from documind.locks import DataFolderBusy, DataFolderLock
    from documind.settings import RunMode

    backups = _maintenance("backup")
    settings = cli_settings()
    _cli_logs(settings)
    lock = DataFolderLock(settings.data_dir) if settings.mode is RunMode.EMBEDDED else None
    try:
        if lock is not None:
            lock.acquire()  # no embedded process may write while the state comes back
        outcome = backups.Backups(settings).restore(backup_dir)
    except (backups.BackupError, DataFolderBusy) as exc:
        raise CliError(str(exc)) from None
    finally:
        if lock is not None:
            lock.release()
    if as_json:
        print_json(outcome)
    else:
        click.echo(f"restored {outcome['restored']}: schema {outcome['schema_revision']}, {outcome['files']} files, "
                   f"collections {', '.join(outcome['collections']) or 'none'}")
