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
        raise CliError(f"cannot start: {type(exc).__name__}: {exc}") from None
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
    }
    if with_stages:
        data["stages"] = [
            {
                "name": s.name.value,
                "state": s.state.value,
                "attempt": s.attempt,
                "units_done": s.units_done,
                "units_total": s.units_total,
                "heartbeat_at": s.heartbeat_at.isoformat() + "Z" if s.heartbeat_at else None,
                "error": s.error,
            }
            for s in doc.stages
        ]
    return data


def _progress(doc: Any) -> str:
    stage = next((s for s in doc.stages if doc.stage and s.name == doc.stage), None)
    if stage is None or not stage.units_total:
        return ""
    return f"{stage.units_done}/{stage.units_total}"


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
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def ingest(paths: tuple[str, ...], tenant: str | None, wait: bool, reprocess: bool, timeout: float, as_json: bool) -> None:
    """Ingest files and folders (recursively)."""
    from tqdm import tqdm

    from documind.contracts import ProcessDocument
    from documind.settings import RunMode
    from documind.status import Upload
    from documind.storage import content_key, sha256_of

    files = _collect(paths)
    if not files:
        raise CliError("nothing to ingest: no files found")
    with _runtime(with_workers=True, recover=True) as rt:
        tenant = tenant or rt.settings.default_tenant
        # Embedded workers live in this process: leaving early would drop the work.
        wait = wait or rt.settings.mode is RunMode.EMBEDDED
        registered = []
        for path in tqdm(files, desc="upload", unit="file", disable=as_json or len(files) < 2, file=sys.stderr):
            digest = sha256_of(path)
            key = content_key(tenant, digest)
            rt.storage.put_file(key, path)
            reg = rt.status.register(
                Upload(tenant, path.name, digest, path.stat().st_size, key), reprocess=reprocess
            )
            if reg.needs_processing:
                rt.bus.send(ProcessDocument(document_id=reg.document_id, generation=reg.generation))
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
    from tqdm import tqdm

    pending = set(ids)
    deadline = time.monotonic() + timeout if timeout else None
    with tqdm(total=len(ids), desc="process", unit="doc", disable=quiet, file=sys.stderr) as bar:
        while pending:
            for doc_id in list(pending):
                doc = rt.status.get(doc_id)
                if doc is None or doc.status.is_final:
                    pending.discard(doc_id)
                    bar.update(1)
            if not pending:
                break
            if deadline and time.monotonic() > deadline:
                raise CliError(f"timed out with {len(pending)} document(s) not final")
            time.sleep(0.25)


# ---- status --------------------------------------------------------------------------------
@main.command()
@click.argument("doc_id", required=False)
@click.option("--tenant", default=None)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def status(doc_id: str | None, tenant: str | None, as_json: bool) -> None:
    """Show one document's status and stages, or all documents."""
    with _runtime(with_workers=False) as rt:
        if doc_id:
            doc = rt.status.get(doc_id)
            if doc is None:
                raise CliError(f"no such document: {doc_id}")
            data: Any = _document_dict(doc)
        else:
            docs = rt.status.list(tenant)
            data = [dict(_document_dict(d, with_stages=False), progress=_progress(d)) for d in docs]
    if as_json:
        _print_json(data)
        return
    if doc_id:
        click.echo(f"{data['id']}  {data['source_name']}  status={data['status']}  stage={data['stage']}")
        if data["error"]:
            click.echo(f"  error: {data['error']}")
        for s in data["stages"]:
            prog = f" {s['units_done']}/{s['units_total']}" if s["units_total"] else ""
            click.echo(f"  {s['name']:<9} {s['state']:<9} attempt {s['attempt']}{prog}")
        return
    for d in data:
        tail = d["error"] or (f"{d['chunk_count']} chunks" if d["chunk_count"] else d["progress"])
        click.echo(f"{d['id']}  {d['status']:<10} {str(d['stage'] or ''):<8} {d['source_name']}  {tail}")


# ---- search --------------------------------------------------------------------------------
@main.command()
@click.argument("query")
@click.option("--top-k", default=10, type=click.IntRange(1, 1000), show_default=True)
@click.option("--tenant", default=None)
@click.option("--document", "document_ids", multiple=True, help="restrict to these document ids")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def search(query: str, top_k: int, tenant: str | None, document_ids: tuple[str, ...], timeout: float, as_json: bool) -> None:
    """Search the indexed chunks."""
    from documind.contracts import SearchQuery

    with _runtime(with_workers=True) as rt:
        request = SearchQuery(
            query=query, tenant=tenant or rt.settings.default_tenant, top_k=top_k,
            document_ids=list(document_ids) or None, model=rt.settings.embedding_model,
        )
        result = _call(rt, request, timeout)
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
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def delete(doc_id: str, timeout: float, as_json: bool) -> None:
    """Delete a document: fence it, drop its chunks, points and stored file."""
    from documind.contracts import DeleteDocument

    with _runtime(with_workers=True) as rt:
        doc = rt.status.mark_deleted(doc_id)
        if doc is None:
            raise CliError(f"no such document: {doc_id}")
        result = _call(rt, DeleteDocument(document_id=doc_id), timeout)
        rt.storage.delete(doc.storage_key)
    if as_json:
        _print_json({"id": doc_id, "status": "deleted", **(result or {})})
    else:
        click.echo(f"{doc_id}  deleted ({(result or {}).get('points_removed', 0)} index points removed)")


# ---- recover -------------------------------------------------------------------------------
@main.command()
@click.option("--stale-after", default=None, type=click.FloatRange(min=0), help="seconds (default: setting)")
@click.option("--timeout", default=120.0, type=float, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def recover(stale_after: float | None, timeout: float, as_json: bool) -> None:
    """Run the stuck-document watchdog now: re-drive (or fail) documents whose worker died."""
    from documind.contracts import RunWatchdog

    with _runtime(with_workers=True) as rt:
        outcome = _call(rt, RunWatchdog(stale_after_s=stale_after), timeout)
    if as_json:
        _print_json(outcome)
    else:
        click.echo(f"re-driven: {len(outcome['redriven'])}, failed: {len(outcome['failed'])}")


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

    settings = _settings()
    try:
        upgrade(settings.effective_database_url)
    except Exception as exc:  # noqa: BLE001
        raise CliError(f"migration failed: {type(exc).__name__}: {exc}") from None
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
