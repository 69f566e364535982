"""Commands on search: search (one query or a file of them) and the query-log analytics."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from documind.cli.common import CliError, cli_settings, open_runtime, print_json, resolve_tenant, service_caller


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


# Queries per SearchBatch message. Small, so answers stream out as each message returns and
# --timeout bounds one message's work rather than the whole file: 256 queries at --top-k 100
# once ran past a deadline meant for one query while the service was still answering.
BATCH_MESSAGE_QUERIES = 16


@click.command()
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
@click.option("--entity", "entities", multiple=True,
              help="restrict to chunks with any of these entities, TYPE:VALUE (e.g. PERSON:'Iwan Roberts', "
                   "EMAIL:a@b.org, PHONE:+442079460958); types: PERSON ORG PLACE DATE MONEY EMAIL PHONE URL IBAN")
@click.option("--since", callback=_when, help="documents created at or after (ISO date/time, UTC if no zone)")
@click.option("--until", callback=_when, help="documents created before (ISO date/time, UTC if no zone)")
@click.option("--timeout", default=120.0, type=click.FloatRange(min=0, min_open=True), show_default=True,
              help="seconds to wait for one answer (with --queries: for each group of "
              f"{BATCH_MESSAGE_QUERIES} queries)")
@click.option("--json", "as_json", is_flag=True, help="print JSON only")
def search(
    query: str | None, queries_file: Path | None, top_k: int, mode: str | None, tenant: str | None,
    document_ids: tuple[str, ...], mime_types: tuple[str, ...], labels: tuple[str, ...],
    entities: tuple[str, ...], since: Any, until: Any, timeout: float, as_json: bool,
) -> None:
    """Search the indexed chunks: QUERY, or every query of --queries FILE."""
    from pydantic import ValidationError

    from documind.contracts import SearchBatch, SearchQuery
    from documind.entity_keys import InvalidEntityFilter, parse_entity_filter
    from documind.query_file import QueryFileError, read_query_file

    if (query is None) == (queries_file is None):
        raise click.UsageError("give either QUERY or --queries FILE")
    tenant = resolve_tenant(tenant)
    try:
        entity_keys = [parse_entity_filter(e) for e in entities] or None
    except InvalidEntityFilter as exc:
        raise click.BadParameter(str(exc), param_hint="--entity") from None
    batch = None
    if queries_file is not None:
        try:
            batch = read_query_file(queries_file)
        except QueryFileError as exc:
            raise CliError(str(exc)) from None
    with service_caller(timeout) as ask:
        options = dict(
            tenant=tenant, top_k=top_k, mode=mode,
            document_ids=list(document_ids) or None, mime_types=list(mime_types) or None,
            labels=list(labels) or None, entities=entity_keys, created_since=since, created_until=until,
            model=cli_settings().embedding_model,
        )
        try:
            if batch is None:
                result = ask(SearchQuery(query=query, **options))
            else:
                for start in range(0, len(batch), BATCH_MESSAGE_QUERIES):
                    part = batch[start : start + BATCH_MESSAGE_QUERIES]
                    answer = ask(SearchBatch(queries=part, **options))
                    for item in answer["results"]:
                        click.echo(json.dumps(item, ensure_ascii=False, default=str))
                    sys.stdout.flush()  # stream each group's answers, even into a pipe
                return
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CliError(first["msg"].removeprefix("Value error, ")) from None
    if as_json:
        print_json(result)
        return
    if not result["hits"]:
        click.echo("no results")
    for rank, hit in enumerate(result["hits"], 1):
        page = f" p.{hit['page']}" if hit.get("page") else ""
        text = " ".join((hit["text"] or "").split())
        click.echo(f"{rank:>2}. {hit['score']:.3f}  {hit['source_name']}{page}  [{hit['document_id']}#{hit['chunk_index']}]")
        click.echo(f"    {text[:200]}{'…' if len(text) > 200 else ''}")


# ---- analytics -----------------------------------------------------------------------------
@click.command()
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
    tenant = None if tenant is None else resolve_tenant(tenant)  # none: every tenant's queries
    with open_runtime(with_workers=False) as rt:
        report = summarize(rt.sessions, window, tenant, limit)
    if as_json:
        print_json(report)
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
