"""Commands for operators: recover (the watchdog now), dead letters, workers, migrations."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from documind.cli.common import EXIT_ERROR, CliError, call_service, cli_settings, open_runtime, print_json, wait_final


# ---- recover -------------------------------------------------------------------------------
@click.command()
@click.option("--stale-after", default=None, type=click.FloatRange(min=0), help="seconds (default: setting)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def recover(stale_after: float | None, timeout: float, as_json: bool) -> None:
    """Run the stuck-document watchdog now: re-drive (or fail) documents whose work was lost.

    Documents whose message still waits in the broker (or runs) are left alone; while another
    watchdog run holds its lock, this one does nothing and says so."""
    from documind.contracts import RunWatchdog

    with open_runtime(with_workers=True) as rt:
        outcome = call_service(rt, RunWatchdog(stale_after_s=stale_after), timeout)
    if as_json:
        print_json(outcome)
    elif outcome.get("skipped"):
        click.echo(f"nothing done: {outcome['skipped']}")
    else:
        click.echo(
            f"re-driven: {len(outcome['redriven'])}, failed: {len(outcome['failed'])}, "
            f"still queued (left alone): {len(outcome.get('queued', []))}, "
            f"corrections re-sent: {len(outcome.get('revisions_resent', []))}"
        )


# ---- dead letters --------------------------------------------------------------------------
@click.group("dead-letters")
def dead_letters() -> None:
    """Messages that gave up: list, show, re-drive (exactly once) or purge them."""


def _letters(rt: Any) -> Any:
    from documind.dead_letters import DeadLetterStore

    return DeadLetterStore(rt.sessions, rt.status, rt.bus.send)


@dead_letters.command("list")
@click.option("--actor", default=None, help="only this actor's letters")
@click.option("--document", "document_id", default=None, help="only this document's letters")
@click.option("--all", "include_redriven", is_flag=True, help="include letters already re-driven")
@click.option("--limit", default=100, type=click.IntRange(1, 100_000), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def dead_letters_list(actor: str | None, document_id: str | None, include_redriven: bool, limit: int, as_json: bool) -> None:
    """Newest first; re-driven letters only with --all."""
    with open_runtime(with_workers=False) as rt:
        letters = _letters(rt).list(actor=actor, document_id=document_id, include_redriven=include_redriven, limit=limit)
    if as_json:
        print_json([{k: v for k, v in x.as_dict().items() if k != "payload"} for x in letters])
        return
    for x in letters:
        done = f"  re-driven {x.redriven_at:%Y-%m-%d %H:%M}" if x.redriven_at else ""
        click.echo(f"{x.id:>6}  {x.created_at:%Y-%m-%d %H:%M}  {x.actor}  {x.document_id or '-'}  {x.reason[:100]}{done}")
    if not letters:
        click.echo("no dead letters", err=True)


@dead_letters.command("show")
@click.argument("letter_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def dead_letters_show(letter_id: int, as_json: bool) -> None:
    """One letter with its payload."""
    with open_runtime(with_workers=False) as rt:
        letter = _letters(rt).get(letter_id)
    if letter is None:
        raise CliError(f"no dead letter {letter_id}")
    data = letter.as_dict()
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key:>12}: {json.dumps(value, ensure_ascii=False) if key == 'payload' else value}")


@dead_letters.command("redrive")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@click.option("--wait/--no-wait", default=False, help="block until re-driven documents are final")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def dead_letters_redrive(letter_ids: tuple[int, ...], wait: bool, as_json: bool) -> None:
    """Send each letter's work again, once: a failed document starts over, other work is
    re-sent as it was. A letter re-driven before, of a deleted document or of an unknown
    actor is refused (exit 1)."""
    from documind.dead_letters import RedriveRefused
    from documind.settings import RunMode

    outcomes, refused, documents = [], 0, []
    with open_runtime(with_workers=True) as rt:
        store = _letters(rt)
        for letter_id in letter_ids:
            letter = store.get(letter_id)
            try:
                done = store.redrive(letter_id)
            except RedriveRefused as exc:
                refused += 1
                outcomes.append({"id": letter_id, "redriven": False, "reason": str(exc)})
                continue
            outcomes.append({"id": letter_id, "redriven": True, "done": done})
            if letter is not None and letter.document_id:
                documents.append(letter.document_id)
        # In embedded mode the work runs in this process: stay until it is done.
        if documents and (wait or rt.settings.mode is RunMode.EMBEDDED):
            wait_final(rt, documents, 0.0, quiet=as_json)
    if as_json:
        print_json(outcomes)
    else:
        for o in outcomes:
            click.echo(f"{o['id']:>6}  {o['done'] if o['redriven'] else 'refused: ' + o['reason']}")
    if refused:
        sys.exit(EXIT_ERROR)


@dead_letters.command("purge")
@click.option("--older-than", default=None, help="only letters older than this: 30m, 24h, 30d ...")
@click.option("--redriven", "redriven_only", is_flag=True, help="only letters already re-driven")
@click.option("--all", "everything", is_flag=True, help="every letter (needed when no other filter is given)")
@click.option("--dry-run", is_flag=True, help="count what would be removed, remove nothing")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def dead_letters_purge(older_than: str | None, redriven_only: bool, everything: bool, dry_run: bool, as_json: bool) -> None:
    """Remove letters for good."""
    from documind.analytics import parse_window

    if not (older_than or redriven_only or everything):
        raise click.UsageError("say what to purge: --older-than, --redriven, or --all")
    try:
        age = parse_window(older_than) if older_than else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    with open_runtime(with_workers=False) as rt:
        n = _letters(rt).purge(older_than=age, redriven_only=redriven_only, dry_run=dry_run)
    if as_json:
        print_json({"purged": 0 if dry_run else n, "would_purge": n if dry_run else None})
    else:
        click.echo(f"{'would purge' if dry_run else 'purged'} {n} dead letter{'s' if n != 1 else ''}")


# ---- workers -------------------------------------------------------------------------------
@click.command()
@click.argument("services", nargs=-1, required=True)
@click.option("--processes", default=None, type=int, help="worker processes (default: setting)")
@click.option("--threads", default=None, type=int, help="threads per process (default: setting)")
def worker(services: tuple[str, ...], processes: int | None, threads: int | None) -> None:
    """Run worker processes for SERVICES with Dramatiq's CLI (distributed mode)."""
    from documind.runtime import discover_services
    from documind.worker_entry import dramatiq_argv, metrics_environment

    settings = cli_settings()
    available = discover_services()
    unknown = [s for s in services if s not in available]
    if unknown:
        raise CliError(f"unknown service(s): {', '.join(unknown)}; installed: {', '.join(sorted(available))}")
    argv = dramatiq_argv(settings, list(services), processes, threads)
    os.environ["DOCUMIND_WORKER_SERVICES"] = ",".join(services)
    os.environ.update(metrics_environment(settings))
    os.execvp(argv[0], argv)


# ---- migrate -------------------------------------------------------------------------------
@click.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from documind.db.migrate import upgrade
    from documind.runtime import describe_error

    settings = cli_settings()
    try:
        upgrade(settings.effective_database_url)
    except Exception as exc:  # noqa: BLE001
        raise CliError(f"migration failed: {settings.redact(describe_error(exc))}") from None
    click.echo("database is at the latest schema")
