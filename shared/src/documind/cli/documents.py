"""Commands on documents: ingest, status, delete, rendition, cancel."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from documind.cli.common import (
    EXIT_DOCUMENTS_FAILED,
    CliError,
    call_service,
    document_dict,
    open_runtime,
    print_json,
    resolve_tenant,
    wait_final,
)


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


@click.command()
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

    tenant = resolve_tenant(tenant)
    files = _collect(paths)
    if not files:
        raise CliError("nothing to ingest: no files found")
    with open_runtime(with_workers=True, recover=True) as rt:
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
            wait_final(rt, ids + [d for d in rt.recovered if d not in ids], timeout, quiet=as_json)
        docs = [rt.status.get(r.document_id) for _, r in registered]
    results = [
        {**document_dict(d, with_stages=False), "path": str(p), "duplicate": not r.created}
        for (p, r), d in zip(registered, docs)
    ]
    if as_json:
        print_json(results)
    else:
        for item in results:
            detail = item["error"] or (f"{item['chunk_count']} chunks" if item["chunk_count"] else "")
            dup = " (already known)" if item["duplicate"] else ""
            click.echo(f"{item['id']}  {item['status']:<10} {item['path']}{dup}  {detail}")
    failed = sum(1 for i in results if i["status"] == "failed")
    if wait and failed:
        click.echo(f"documind: {failed} of {len(results)} documents failed", err=True)
        sys.exit(EXIT_DOCUMENTS_FAILED)


# ---- status --------------------------------------------------------------------------------
@click.command()
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
    tenant = resolve_tenant(tenant)
    with open_runtime(with_workers=False) as rt:
        if watch:
            final = _watch(rt, doc_id, tenant, interval, as_json)  # type: ignore[arg-type]
            if final != "completed":
                sys.exit(EXIT_DOCUMENTS_FAILED)
            return
        if doc_id:
            doc = rt.status.get(doc_id, tenant=tenant)
            if doc is None:
                raise CliError(f"no such document: {doc_id}")
            data: Any = document_dict(doc)
        else:
            data = []
            for d in rt.status.list(tenant, limit=limit):
                data.append({**document_dict(d, with_stages=False), **view_fields(d)})
    if as_json:
        print_json(data)
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
            data = document_dict(doc)
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


# ---- delete --------------------------------------------------------------------------------
@click.command()
@click.argument("doc_id")
@click.option("--tenant", default=None, help="tenant of the document (default: DOCUMIND_DEFAULT_TENANT)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def delete(doc_id: str, tenant: str | None, timeout: float, as_json: bool) -> None:
    """Delete a document: fence it, drop its chunks, points and stored file."""
    from documind.contracts import DeleteDocument

    tenant = resolve_tenant(tenant)
    with open_runtime(with_workers=True) as rt:
        doc = rt.status.mark_deleted(doc_id, tenant=tenant)
        if doc is None:
            raise CliError(f"no such document: {doc_id}")
        result = call_service(rt, DeleteDocument(document_id=doc_id, tenant=tenant), timeout)
        from documind.renditions import delete_renditions

        delete_renditions(doc.metadata_, rt.storage)
        rt.storage.delete(doc.storage_key)
    if as_json:
        print_json({"id": doc_id, "status": "deleted", **(result or {})})
    else:
        click.echo(f"{doc_id}  deleted ({(result or {}).get('points_removed', 0)} index points removed)")


# ---- rendition -----------------------------------------------------------------------------
@click.command()
@click.argument("doc_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "txt", "pdf"]), default="md", show_default=True,
              help="pdf: searchable PDF, for scans and images only")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="write to this file instead of stdout")
@click.option("--tenant", default=None, help="tenant of the document (default: DOCUMIND_DEFAULT_TENANT)")
def rendition(doc_id: str, fmt: str, output: str | None, tenant: str | None) -> None:
    """Print or save a document's elements (json), Markdown (md), plain text (txt) or searchable PDF."""
    from documind.renditions import RenditionMissing, find_rendition

    tenant = resolve_tenant(tenant)
    with open_runtime(with_workers=False) as rt:
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
@click.command()
@click.argument("doc_id")
@click.option("--tenant", default=None, help="tenant of the document (default: DOCUMIND_DEFAULT_TENANT)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def cancel(doc_id: str, tenant: str | None, timeout: float, as_json: bool) -> None:
    """Cancel a document still being processed: stop its work, drop its chunks and points."""
    from documind.contracts import DeleteDocument

    tenant = resolve_tenant(tenant)
    with open_runtime(with_workers=True) as rt:
        doc, cancelled = rt.status.cancel(doc_id, tenant=tenant)
        if doc is None:
            raise CliError(f"no such document: {doc_id}")
        if not cancelled:
            raise CliError(f"cannot cancel {doc_id}: it is already {doc.status.value} (final)")
        # Points of a batch indexed before the fence rose; later batches remove their own.
        result = call_service(rt, DeleteDocument(document_id=doc_id, tenant=tenant), timeout)
    if as_json:
        print_json({"id": doc_id, "status": "cancelled", **(result or {})})
    else:
        click.echo(f"{doc_id}  cancelled ({(result or {}).get('points_removed', 0)} index points removed)")
