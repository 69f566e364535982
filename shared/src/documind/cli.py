"""The ``documind`` command line.

Embedded mode (the default) runs every installed service's actors inside this process, so a
command that needs work done (``ingest``, ``search``, ``delete``) starts in-process workers
and returns when the work is final. Distributed mode only sends messages and reads the
database; worker processes (``documind worker SERVICE``) do the work.

Exit codes: 0 success; 1 error (one line on stderr); 2 usage error; 3 some documents failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from documind.errors import DocumindError

EXIT_ERROR = 1
EXIT_DOCUMENTS_FAILED = 3


class CliError(click.ClickException):
    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"documind: error: {self.format_message()}", err=True)


def _settings():  # noqa: ANN202
    from documind.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        raise CliError(str(exc)) from None


def _tenant(tenant: str | None) -> str:
    """The --tenant given, else DOCUMIND_DEFAULT_TENANT; an invalid name is one error line
    (exit 1) before anything starts. Id-taking commands look documents up within this
    tenant only: another tenant's document answers "no such document", like a missing one,
    so ids never reveal what other tenants hold."""
    from documind.tenants import InvalidTenant, validate_tenant

    if tenant is None:
        return _settings().default_tenant  # validated with the settings
    try:
        return validate_tenant(tenant)
    except InvalidTenant as exc:
        raise CliError(str(exc)) from None


@contextmanager
def _runtime(with_workers: bool, recover: bool = False) -> Iterator[Any]:
    """A runtime; in embedded mode with ``with_workers`` also the in-process workers
    (``recover``: first re-drive documents an interrupted embedded process left unfinished;
    their ids are in ``runtime.recovered``)."""
    from documind.runtime import build_runtime
    from documind.settings import RunMode

    settings = _settings()
    try:
        runtime = build_runtime(settings, configure_logs=False)
    except Exception as exc:  # noqa: BLE001 - e.g. database unreachable: one line, not a trace
        raise CliError(f"cannot start: {exc}") from None  # a StartupError: its cause, secrets masked
    from documind.logging import configure_logging

    # The CLI's stdout is for results; workers' logs go to stderr, quiet unless they warn.
    configure_logging(os.environ.get("DOCUMIND_CLI_LOG_LEVEL", "WARNING"), settings.log_json)
    workers = None
    try:
        if with_workers and settings.mode is RunMode.EMBEDDED:
            from documind.embedded import EmbeddedWorkers

            workers = EmbeddedWorkers(runtime, recover=recover)
            workers.start()
        runtime.recovered = workers.recovered if workers else []  # type: ignore[attr-defined]
        yield runtime
    finally:
        if workers is not None:
            workers.stop()
        runtime.close()


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _document_dict(doc: Any, with_stages: bool = True) -> dict[str, Any]:
    from documind.status_view import stage_dict, view_fields

    data: dict[str, Any] = {
        "id": doc.id,
        "tenant": doc.tenant,
        "source_name": doc.source_name,
        "status": doc.status.value,
        "stage": doc.stage.value if doc.stage else None,
        "generation": doc.generation,
        "mime_type": doc.mime_type,
        "size_bytes": doc.size_bytes,
        "sha256": doc.sha256,
        "chunk_count": doc.chunk_count,
        "error": doc.error,
        "metadata": doc.metadata_ or {},
        "created_at": doc.created_at.isoformat() + "Z" if doc.created_at else None,
        "completed_at": doc.completed_at.isoformat() + "Z" if doc.completed_at else None,
        "lane": doc.lane.value if doc.lane else None,
    }
    if with_stages:
        # phase / progress / heartbeat_age_s / final: the display view (status_view).
        data.update(view_fields(doc))
        data["stages"] = [stage_dict(s) for s in doc.stages]
    return data


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="documind-shared")
def main() -> None:
    """DocuMind Workers: documents in, searchable chunks out."""


# ---- ingest --------------------------------------------------------------------------------
def _collect(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            raise CliError(f"no such file or folder: {raw}")
    return files


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--tenant", default=None, help="tenant the documents belong to")
@click.option("--wait/--no-wait", default=False, help="block until every document is final")
@click.option("--reprocess", is_flag=True, help="process again even if the same bytes are known")
@click.option("--timeout", default=0.0, type=float, help="give up waiting after N seconds (0: never)")
@click.option("--bulk", is_flag=True, help="send to the bulk lane (default for folders and many files)")
@click.option("--lane", type=click.Choice(["interactive", "bulk"]), default=None,
              help="priority lane, overriding the automatic choice")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def ingest(
    paths: tuple[str, ...], tenant: str | None, wait: bool, reprocess: bool, timeout: float,
    bulk: bool, lane: str | None, as_json: bool,
) -> None:
    """Ingest files and folders (recursively).

    A folder, more than DOCUMIND_BULK_THRESHOLD_FILES files, or --bulk goes to the bulk lane,
    which workers serve only when no interactive work waits; single files are interactive."""
    from tqdm import tqdm

    from documind.contracts import Lane, ProcessDocument
    from documind.lanes import choose_lane
    from documind.settings import RunMode
    from documind.status import Upload
    from documind.storage import content_key, sha256_of

    tenant = _tenant(tenant)
    files = _collect(paths)
    if not files:
        raise CliError("nothing to ingest: no files found")
    with _runtime(with_workers=True, recover=True) as rt:
        chosen = choose_lane(
            [Path(p) for p in paths], len(files),
            threshold_files=rt.settings.bulk_threshold_files, bulk=bulk, lane=Lane(lane) if lane else None,
        )
        # Embedded workers live in this process: leaving early would drop the work.
        wait = wait or rt.settings.mode is RunMode.EMBEDDED
        registered = []
        for path in tqdm(files, desc="upload", unit="file", disable=as_json or len(files) < 2, file=sys.stderr):
            digest = sha256_of(path)
            key = content_key(tenant, digest)
            rt.storage.put_file(key, path)
            reg = rt.status.register(
                Upload(tenant, path.name, digest, path.stat().st_size, key, chosen), reprocess=reprocess
            )
            if reg.needs_processing:
                rt.bus.send(ProcessDocument(
                    document_id=reg.document_id, generation=reg.generation, lane=reg.lane, tenant=tenant
                ))
            registered.append((path, reg))
        if rt.recovered and not as_json:
            click.echo(f"resuming {len(rt.recovered)} document(s) left unfinished by an earlier run", err=True)
        if wait:
            ids = [r.document_id for _, r in registered]
            _wait_final(rt, ids + [d for d in rt.recovered if d not in ids], timeout, quiet=as_json)
        docs = [rt.status.get(r.document_id) for _, r in registered]
    results = [
        {**_document_dict(d, with_stages=False), "path": str(p), "duplicate": not r.created}
        for (p, r), d in zip(registered, docs)
    ]
    if as_json:
        _print_json(results)
    else:
        for item in results:
            detail = item["error"] or (f"{item['chunk_count']} chunks" if item["chunk_count"] else "")
            dup = " (already known)" if item["duplicate"] else ""
            click.echo(f"{item['id']}  {item['status']:<10} {item['path']}{dup}  {detail}")
    failed = sum(1 for i in results if i["status"] == "failed")
    if wait and failed:
        click.echo(f"documind: {failed} of {len(results)} documents failed", err=True)
        sys.exit(EXIT_DOCUMENTS_FAILED)


def _wait_final(rt: Any, ids: list[str], timeout: float, quiet: bool) -> None:
    """Aggregate polling with backoff (documind.waiting); a progress bar on a terminal."""
    from tqdm import tqdm

    from documind.waiting import DocumentWaiter, Poll

    waiter = DocumentWaiter(rt.status, ids)
    show = not quiet and sys.stderr.isatty()
    with tqdm(total=len(waiter.pending), desc="process", unit="doc", disable=not show, file=sys.stderr) as bar:

        def on_poll(poll: Poll) -> None:
            bar.update(len(poll.finished))
            bar.set_postfix(poll.counts, refresh=True)
            if not quiet:
                for f in poll.finished:
                    if f.status.value == "failed":
                        tqdm.write(f"documind: {f.document_id} failed: {f.error}", file=sys.stderr)

        if not waiter.wait(on_poll, timeout_s=timeout):
            raise CliError(f"timed out with {len(waiter.pending)} document(s) not final")


# ---- status --------------------------------------------------------------------------------
@main.command()
@click.argument("doc_id", required=False)
@click.option("--tenant", default=None, help="tenant of the document(s) (default: DOCUMIND_DEFAULT_TENANT)")
@click.option("--limit", default=50, type=click.IntRange(1, 10_000), show_default=True,
              help="most recent documents listed")
@click.option("--watch", "--follow", "watch", is_flag=True, help="refresh until the document is final")
@click.option("--interval", default=1.0, type=click.FloatRange(min=0.05), show_default=True,
              help="seconds between refreshes with --watch")
@click.option("--json", "as_json", is_flag=True, help="print JSON only (--watch: one line per change)")
def status(doc_id: str | None, tenant: str | None, limit: int, watch: bool, interval: float, as_json: bool) -> None:
    """Show one document's phase, progress and stages, or list the tenant's recent documents.

    With --watch, exits 0 when the document completed and 3 when it failed or was cancelled."""
    from documind.status_view import view_fields

    if watch and not doc_id:
        raise click.UsageError("--watch needs a DOC_ID")
    tenant = _tenant(tenant)
    with _runtime(with_workers=False) as rt:
        if watch:
            final = _watch(rt, doc_id, tenant, interval, as_json)  # type: ignore[arg-type]
            if final != "completed":
                sys.exit(EXIT_DOCUMENTS_FAILED)
            return
        if doc_id:
            doc = rt.status.get(doc_id, tenant=tenant)
            if doc is None:
                raise CliError(f"no such document: {doc_id}")
            data: Any = _document_dict(doc)
        else:
            data = []
            for d in rt.status.list(tenant, limit=limit):
                data.append({**_document_dict(d, with_stages=False), **view_fields(d)})
    if as_json:
        _print_json(data)
        return
    if doc_id:
        click.echo(_document_text(data))
        return
    for d in data:
        prog = d["progress"]
        tail = d["error"] or (f"{prog['done']}/{prog['total']} ({prog['percent']:.0f}%)" if prog and prog["percent"] is not None
                              else f"{d['chunk_count']} chunks" if d["chunk_count"] else "")
        click.echo(f"{d['id']}  {d['phase']:<20} {d['lane']:<11} {d['source_name']}  {tail}")


def _document_text(data: dict[str, Any]) -> str:
    prog = data["progress"]
    pct = f"  {prog['done']}/{prog['total']} ({prog['percent']:.0f}%)" if prog and prog["percent"] is not None else ""
    beat = f"  heartbeat {data['heartbeat_age_s']:.0f} s ago" if data["heartbeat_age_s"] is not None else ""
    lines = [f"{data['id']}  {data['source_name']}  {data['phase']}{pct}{beat}  (lane {data['lane']})"]
    if data["error"]:
        lines.append(f"  error: {data['error']}")
    for s in data["stages"]:
        units = f" {s['units_done']}/{s['units_total']}" if s["units_total"] else ""
        lines.append(f"  {s['label']:<11} {s['state']:<9} attempt {s['attempt']}{units}")
    return "\n".join(lines)


def _render_document(data: dict[str, Any]) -> Any:
    """A rich renderable of one document: its phase line and a table of stages."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    head = Text(f"{data['id']}  {data['source_name']}  ", style="bold")
    head.append(data["phase"], style="red" if data["status"] == "failed" else "green" if data["final"] else "cyan")
    if data["heartbeat_age_s"] is not None:
        head.append(f"  heartbeat {data['heartbeat_age_s']:.0f} s ago", style="dim")
    table = Table(box=None, pad_edge=False)
    for col in ("stage", "state", "attempt", "progress", ""):
        table.add_column(col)
    for s in data["stages"]:
        bar = ProgressBar(total=s["units_total"], completed=s["units_done"], width=20) if s["units_total"] else ""
        units = f"{s['units_done']}/{s['units_total']}" if s["units_total"] else ""
        table.add_row(s["label"], s["state"], str(s["attempt"]), units, bar)
    parts: list[Any] = [head, table]
    if data["error"]:
        parts.append(Text(f"error: {data['error']}", style="red"))
    return Group(*parts)


def _watch(rt: Any, doc_id: str, tenant: str, interval: float, as_json: bool) -> str:
    """Refresh one document until it is final; returns its final status. On a terminal a
    live view (rich); otherwise (and with --json) one output per change."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    live = Live(console=console, auto_refresh=False) if console.is_terminal and not as_json else None
    last: Any = None
    try:
        if live is not None:
            live.start()
        while True:
            doc = rt.status.get(doc_id, tenant=tenant)
            if doc is None:
                raise CliError(f"no such document: {doc_id}")
            data = _document_dict(doc)
            # What counts as a change: everything but the ticking heartbeat ages.
            key = json.dumps({k: v for k, v in data.items() if k != "heartbeat_age_s"} | {
                "stages": [{k: v for k, v in st.items() if k not in ("heartbeat_at", "heartbeat_age_s")} for st in data["stages"]]
            }, default=str, sort_keys=True)
            if live is not None:
                live.update(_render_document(data), refresh=True)
            elif key != last:
                click.echo(json.dumps(data, default=str, ensure_ascii=False) if as_json else _document_text(data))
            last = key
            if data["final"]:
                return data["status"]
            time.sleep(interval)
    finally:
        if live is not None:
            live.stop()


# ---- search --------------------------------------------------------------------------------
def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """ISO date or date-time (``2026-01-31``, ``2026-01-31T12:00:00+01:00``); naive = UTC."""
    if value is None:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)") from None


BATCH_MESSAGE_QUERIES = 256  # queries per SearchBatch message: one model pass, well inside its time limit


@main.command()
@click.argument("query", required=False)
@click.option("--queries", "queries_file", type=click.Path(dir_okay=False, path_type=Path),
              help="batch: one query per line, or JSON lines with id and text; prints JSON lines")
@click.option("--top-k", default=10, type=click.IntRange(1, 1000), show_default=True)
@click.option("--mode", type=click.Choice(["dense", "keyword", "hybrid"]), default=None,
              help="retrieval mode (default: DOCUMIND_SEARCH_MODE)")
@click.option("--tenant", default=None)
@click.option("--document", "document_ids", multiple=True, help="restrict to these document ids")
@click.option("--mime", "mime_types", multiple=True, help="restrict to these MIME types")
@click.option("--label", "labels", multiple=True, help="restrict to documents with any of these labels")
@click.option("--since", callback=_when, help="documents created at or after (ISO date/time, UTC if no zone)")
@click.option("--until", callback=_when, help="documents created before (ISO date/time, UTC if no zone)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def search(
    query: str | None, queries_file: Path | None, top_k: int, mode: str | None, tenant: str | None,
    document_ids: tuple[str, ...], mime_types: tuple[str, ...], labels: tuple[str, ...],
    since: Any, until: Any, timeout: float, as_json: bool,
) -> None:
    """Search the indexed chunks: QUERY, or every query of --queries FILE."""
    from pydantic import ValidationError

    from documind.contracts import SearchBatch, SearchQuery
    from documind.query_file import QueryFileError, read_query_file

    if (query is None) == (queries_file is None):
        raise click.UsageError("give either QUERY or --queries FILE")
    tenant = _tenant(tenant)
    batch = None
    if queries_file is not None:
        try:
            batch = read_query_file(queries_file)
        except QueryFileError as exc:
            raise CliError(str(exc)) from None
    with _runtime(with_workers=True) as rt:
        options = dict(
            tenant=tenant, top_k=top_k, mode=mode,
            document_ids=list(document_ids) or None, mime_types=list(mime_types) or None,
            labels=list(labels) or None, created_since=since, created_until=until,
            model=rt.settings.embedding_model,
        )
        try:
            if batch is None:
                result = _call(rt, SearchQuery(query=query, **options), timeout)
            else:
                for start in range(0, len(batch), BATCH_MESSAGE_QUERIES):
                    part = batch[start : start + BATCH_MESSAGE_QUERIES]
                    answer = _call(rt, SearchBatch(queries=part, **options), timeout)
                    for item in answer["results"]:
                        click.echo(json.dumps(item, ensure_ascii=False, default=str))
                return
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CliError(first["msg"].removeprefix("Value error, ")) from None
    if as_json:
        _print_json(result)
        return
    if not result["hits"]:
        click.echo("no results")
    for rank, hit in enumerate(result["hits"], 1):
        page = f" p.{hit['page']}" if hit.get("page") else ""
        text = " ".join((hit["text"] or "").split())
        click.echo(f"{rank:>2}. {hit['score']:.3f}  {hit['source_name']}{page}  [{hit['document_id']}#{hit['chunk_index']}]")
        click.echo(f"    {text[:200]}{'…' if len(text) > 200 else ''}")


def _call(rt: Any, request: Any, timeout: float) -> Any:
    from dramatiq.results import ResultFailure, ResultTimeout

    try:
        return rt.bus.call(request, timeout_s=timeout)
    except ResultTimeout:
        raise CliError(f"no answer from the search service within {timeout:.0f} s (is a search worker running?)") from None
    except ResultFailure as exc:
        raise CliError(str(exc.orig_exc_msg if hasattr(exc, "orig_exc_msg") else exc)) from None


# ---- delete --------------------------------------------------------------------------------
@main.command()
@click.argument("doc_id")
@click.option("--tenant", default=None, help="tenant of the document (default: DOCUMIND_DEFAULT_TENANT)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def delete(doc_id: str, tenant: str | None, timeout: float, as_json: bool) -> None:
    """Delete a document: fence it, drop its chunks, points and stored file."""
    from documind.contracts import DeleteDocument

    tenant = _tenant(tenant)
    with _runtime(with_workers=True) as rt:
        doc = rt.status.mark_deleted(doc_id, tenant=tenant)
        if doc is None:
            raise CliError(f"no such document: {doc_id}")
        result = _call(rt, DeleteDocument(document_id=doc_id, tenant=tenant), timeout)
        from documind.renditions import delete_renditions

        delete_renditions(doc.metadata_, rt.storage)
        rt.storage.delete(doc.storage_key)
    if as_json:
        _print_json({"id": doc_id, "status": "deleted", **(result or {})})
    else:
        click.echo(f"{doc_id}  deleted ({(result or {}).get('points_removed', 0)} index points removed)")


# ---- rendition -----------------------------------------------------------------------------
@main.command()
@click.argument("doc_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "txt", "pdf"]), default="md", show_default=True,
              help="pdf: searchable PDF, for scans and images only")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="write to this file instead of stdout")
@click.option("--tenant", default=None, help="tenant of the document (default: DOCUMIND_DEFAULT_TENANT)")
def rendition(doc_id: str, fmt: str, output: str | None, tenant: str | None) -> None:
    """Print or save a document's elements (json), Markdown (md), plain text (txt) or searchable PDF."""
    from documind.renditions import RenditionMissing, find_rendition

    tenant = _tenant(tenant)
    with _runtime(with_workers=False) as rt:
        doc = rt.status.get(doc_id, tenant=tenant)
        if doc is None or doc.status.value == "deleted":
            raise CliError(f"no such document: {doc_id}")
        try:
            key = find_rendition(doc.metadata_, fmt, rt.storage)
        except RenditionMissing as exc:
            raise CliError(f"{doc_id}: {exc} (status {doc.status.value})") from None
        with rt.storage.open(key) as fh:
            data = fh.read()
    if output:
        Path(output).write_bytes(data)
        click.echo(f"{doc_id}  {fmt} rendition written to {output} ({len(data)} bytes)", err=True)
    elif fmt == "pdf":
        click.get_binary_stream("stdout").write(data)
    else:
        click.echo(data.decode("utf-8"), nl=not data.endswith(b"\n"))


# ---- cancel --------------------------------------------------------------------------------
@main.command()
@click.argument("doc_id")
@click.option("--tenant", default=None, help="tenant of the document (default: DOCUMIND_DEFAULT_TENANT)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def cancel(doc_id: str, tenant: str | None, timeout: float, as_json: bool) -> None:
    """Cancel a document still being processed: stop its work, drop its chunks and points."""
    from documind.contracts import DeleteDocument

    tenant = _tenant(tenant)
    with _runtime(with_workers=True) as rt:
        doc, cancelled = rt.status.cancel(doc_id, tenant=tenant)
        if doc is None:
            raise CliError(f"no such document: {doc_id}")
        if not cancelled:
            raise CliError(f"cannot cancel {doc_id}: it is already {doc.status.value} (final)")
        # Points of a batch indexed before the fence rose; later batches remove their own.
        result = _call(rt, DeleteDocument(document_id=doc_id, tenant=tenant), timeout)
    if as_json:
        _print_json({"id": doc_id, "status": "cancelled", **(result or {})})
    else:
        click.echo(f"{doc_id}  cancelled ({(result or {}).get('points_removed', 0)} index points removed)")


# ---- recover -------------------------------------------------------------------------------
@main.command()
@click.option("--stale-after", default=None, type=click.FloatRange(min=0), help="seconds (default: setting)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def recover(stale_after: float | None, timeout: float, as_json: bool) -> None:
    """Run the stuck-document watchdog now: re-drive (or fail) documents whose work was lost.

    Documents whose message still waits in the broker (or runs) are left alone; while another
    watchdog run holds its lock, this one does nothing and says so."""
    from documind.contracts import RunWatchdog

    with _runtime(with_workers=True) as rt:
        outcome = _call(rt, RunWatchdog(stale_after_s=stale_after), timeout)
    if as_json:
        _print_json(outcome)
    elif outcome.get("skipped"):
        click.echo(f"nothing done: {outcome['skipped']}")
    else:
        click.echo(
            f"re-driven: {len(outcome['redriven'])}, failed: {len(outcome['failed'])}, "
            f"still queued (left alone): {len(outcome.get('queued', []))}"
        )


# ---- dead letters --------------------------------------------------------------------------
@main.group("dead-letters")
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
    with _runtime(with_workers=False) as rt:
        letters = _letters(rt).list(actor=actor, document_id=document_id, include_redriven=include_redriven, limit=limit)
    if as_json:
        _print_json([{k: v for k, v in x.as_dict().items() if k != "payload"} for x in letters])
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
    with _runtime(with_workers=False) as rt:
        letter = _letters(rt).get(letter_id)
    if letter is None:
        raise CliError(f"no dead letter {letter_id}")
    data = letter.as_dict()
    if as_json:
        _print_json(data)
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
    with _runtime(with_workers=True) as rt:
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
            _wait_final(rt, documents, 0.0, quiet=as_json)
    if as_json:
        _print_json(outcomes)
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
    with _runtime(with_workers=False) as rt:
        n = _letters(rt).purge(older_than=age, redriven_only=redriven_only, dry_run=dry_run)
    if as_json:
        _print_json({"purged": 0 if dry_run else n, "would_purge": n if dry_run else None})
    else:
        click.echo(f"{'would purge' if dry_run else 'purged'} {n} dead letter{'s' if n != 1 else ''}")


# ---- analytics -----------------------------------------------------------------------------
@main.command()
@click.option("--since", default="7d", show_default=True, help="window: 30m, 24h, 7d ...")
@click.option("--tenant", default=None, help="only this tenant's queries")
@click.option("--limit", default=10, type=click.IntRange(1, 1000), show_default=True, help="rows per top list")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def analytics(since: str, tenant: str | None, limit: int, as_json: bool) -> None:
    """Search analytics from the query log: top and zero-result queries, latency, cache hits."""
    from documind.analytics import parse_window, summarize

    try:
        window = parse_window(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    tenant = None if tenant is None else _tenant(tenant)  # none: every tenant's queries
    with _runtime(with_workers=False) as rt:
        report = summarize(rt.sessions, window, tenant, limit)
    if as_json:
        _print_json(report)
        return
    lat = report["latency_ms"]
    rate = "n/a" if report["cache_hit_rate"] is None else f"{report['cache_hit_rate']:.1%}"
    click.echo(f"queries since {report['window']['since']}: {report['queries']}"
               f"  (zero results: {report['zero_result_queries']}, cache hit rate: {rate})")
    if lat["sample"]:
        click.echo(f"latency ms: p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f}  (n={lat['sample']})")
    for title, key in (("top queries", "top_queries"), ("zero-result queries", "zero_result_top")):
        if report[key]:
            click.echo(f"{title}:")
            for row in report[key]:
                click.echo(f"  {row['count']:>6}  {row['query']}")
    if report["per_tenant"]:
        click.echo("per tenant:")
        for row in report["per_tenant"]:
            click.echo(f"  {row['count']:>6}  {row['tenant']}")


# ---- index maintenance ---------------------------------------------------------------------
@main.group()
def index() -> None:
    """Check, repair, re-index and optimize the search index (work runs in the search service)."""


_INDEX_TIMEOUT = click.option(
    "--timeout", default=6 * 3600.0, type=float, show_default=True, help="seconds to wait for the search service"
)


def _echo_damage(report: dict[str, Any]) -> None:
    click.echo(
        f"documents checked: {report['documents_checked']}, chunks expected: {report['chunks_expected']}, "
        f"points scanned: {report['points_scanned']}"
    )
    for name in ("missing", "extra", "stale"):
        cls = report[name]
        click.echo(f"{name:<8} {cls['count']}")
        for item in cls["sample"]:
            why = f"  ({item['reason']})" if item.get("reason") else ""
            click.echo(f"  {item['point_id']}  document {item.get('document_id')}#{item.get('chunk_index', '')}{why}")


@index.command("check")
@click.option("--tenant", default=None, help="only this tenant's documents and points")
@_INDEX_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def index_check(tenant: str | None, timeout: float, as_json: bool) -> None:
    """Compare the index with the database; exit code 1 when anything is missing, extra or stale."""
    from documind.contracts import CheckIndex

    tenant = None if tenant is None else _tenant(tenant)  # none: the whole index
    with _runtime(with_workers=True) as rt:
        report = _call(rt, CheckIndex(tenant=tenant), timeout)
    if as_json:
        _print_json(report)
    else:
        _echo_damage(report)
        click.echo("index is consistent with the database" if report["clean"] else "index differs from the database (run documind index repair)")
    if not report["clean"]:
        sys.exit(EXIT_ERROR)


@index.command("repair")
@_INDEX_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def index_repair(timeout: float, as_json: bool) -> None:
    """Fix the index from the database: rewrite missing and stale points from the stored
    embeddings, delete extra points."""
    from documind.contracts import CheckIndex

    with _runtime(with_workers=True) as rt:
        report = _call(rt, CheckIndex(repair=True), timeout)
    if as_json:
        _print_json(report)
        return
    _echo_damage(report)
    fixed = report["repaired"]
    click.echo(f"repaired: {fixed['upserted']} points written, {fixed['deleted']} points deleted")


@index.command("reindex")
@_INDEX_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def index_reindex(timeout: float, as_json: bool) -> None:
    """Rebuild the index into a new collection, then switch the alias to it atomically."""
    from documind.contracts import ReindexCollection

    with _runtime(with_workers=True) as rt:
        result = _call(rt, ReindexCollection(), timeout)
    if as_json:
        _print_json(result)
        return
    click.echo(
        f"{result['alias']} -> {result['new_collection']} (was {result['old_collection']}): "
        f"{result['points_copied']} points copied from {result['documents']} documents, "
        f"{result['points']} points now, {result['seconds']} s"
    )


@index.command("optimize")
@click.option("--quantization", type=click.Choice(["scalar", "none"]), default=None, help="default: unchanged")
@_INDEX_TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def index_optimize(quantization: str | None, timeout: float, as_json: bool) -> None:
    """Apply optimizer/HNSW/quantization settings and measure before and after."""
    from documind.contracts import OptimizeIndex

    with _runtime(with_workers=True) as rt:
        result = _call(rt, OptimizeIndex(quantization=quantization), timeout)
    if as_json:
        _print_json(result)
        return
    click.echo(f"collection {result['collection']} ({result['mode']} mode), quantization: {result['applied']['quantization']}")
    keys = ("points", "size_bytes", "segments", "indexed_vectors", "latency_p50_ms", "recall_at_10")
    for key in keys:
        click.echo(f"  {key:<16} {str(result['before'][key]):>12} -> {result['after'][key]}")
    for note in result["notes"]:
        click.echo(f"note: {note}")


# ---- workers -------------------------------------------------------------------------------
@main.command()
@click.argument("services", nargs=-1, required=True)
@click.option("--processes", default=None, type=int, help="worker processes (default: setting)")
@click.option("--threads", default=None, type=int, help="threads per process (default: setting)")
def worker(services: tuple[str, ...], processes: int | None, threads: int | None) -> None:
    """Run worker processes for SERVICES with Dramatiq's CLI (distributed mode)."""
    from documind.runtime import discover_services
    from documind.worker_entry import dramatiq_argv, metrics_environment

    settings = _settings()
    available = discover_services()
    unknown = [s for s in services if s not in available]
    if unknown:
        raise CliError(f"unknown service(s): {', '.join(unknown)}; installed: {', '.join(sorted(available))}")
    argv = dramatiq_argv(settings, list(services), processes, threads)
    os.environ["DOCUMIND_WORKER_SERVICES"] = ",".join(services)
    os.environ.update(metrics_environment(settings))
    os.execvp(argv[0], argv)


# ---- migrate -------------------------------------------------------------------------------
@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from documind.db.migrate import upgrade
    from documind.runtime import describe_error

    settings = _settings()
    try:
        upgrade(settings.effective_database_url)
    except Exception as exc:  # noqa: BLE001
        raise CliError(f"migration failed: {settings.redact(describe_error(exc))}") from None
    click.echo("database is at the latest schema")


def run() -> None:
    """Console entry point: any error is one line on stderr and exit code 1
    (set DOCUMIND_DEBUG=1 for the traceback)."""
    try:
        main(standalone_mode=True)
    except DocumindError as exc:
        click.echo(f"documind: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("DOCUMIND_DEBUG"):
            raise
        click.echo(f"documind: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_ERROR)
