"""`documind index ...`: check, repair, re-index and optimize the vector index."""

from __future__ import annotations

import sys
from typing import Any

import click

from documind.cli.common import EXIT_ERROR, call_service, open_runtime, print_json, resolve_tenant


# ---- index maintenance ---------------------------------------------------------------------
@click.group()
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

    tenant = None if tenant is None else resolve_tenant(tenant)  # none: the whole index
    with open_runtime(with_workers=True) as rt:
        report = call_service(rt, CheckIndex(tenant=tenant), timeout)
    if as_json:
        print_json(report)
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

    with open_runtime(with_workers=True) as rt:
        report = call_service(rt, CheckIndex(repair=True), timeout)
    if as_json:
        print_json(report)
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

    with open_runtime(with_workers=True) as rt:
        result = call_service(rt, ReindexCollection(), timeout)
    if as_json:
        print_json(result)
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

    with open_runtime(with_workers=True) as rt:
        result = call_service(rt, OptimizeIndex(quantization=quantization), timeout)
    if as_json:
        print_json(result)
        return
    click.echo(f"collection {result['collection']} ({result['mode']} mode), quantization: {result['applied']['quantization']}")
    keys = ("points", "size_bytes", "segments", "indexed_vectors", "latency_p50_ms", "recall_at_10")
    for key in keys:
        click.echo(f"  {key:<16} {str(result['before'][key]):>12} -> {result['after'][key]}")
    for note in result["notes"]:
        click.echo(f"note: {note}")
