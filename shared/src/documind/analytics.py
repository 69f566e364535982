"""Search analytics over a window of the query log: top and zero-result queries, latency
percentiles, per-tenant volume, cache hit rate. Counts are SQL aggregates (portable: SQLite
and Postgres); percentiles are computed here over the window's latencies, at most
``LATENCY_SAMPLE`` of the newest rows so a huge window stays cheap."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, func, select

from documind.db.engine import SessionFactory
from documind.db.models import QueryLogEntry, utcnow

LATENCY_SAMPLE = 100_000
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_window(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d`` (also ``s``) -> timedelta; anything else is a ValueError."""
    match = _WINDOW.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"bad window {text!r}: use a positive number and a unit s, m, h or d (e.g. 30m, 24h, 7d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def normalised_query():  # noqa: ANN201
    # Case and surrounding blanks do not make a different question.
    return func.lower(func.trim(QueryLogEntry.query))


def summarize(sessions: SessionFactory, since: timedelta, tenant: str | None = None, limit: int = 10) -> dict[str, Any]:
    now = utcnow()
    start = now - since
    where = [QueryLogEntry.created_at >= start]
    if tenant:
        where.append(QueryLogEntry.tenant == tenant)
    norm = normalised_query().label("query")
    with sessions() as s:
        total, zero, hits = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((QueryLogEntry.result_count == 0, 1), else_=0)), 0),
                func.coalesce(func.sum(cast(QueryLogEntry.cache_hit, Integer)), 0),
            ).where(*where)
        ).one()
        top = s.execute(
            select(norm, func.count().label("n")).where(*where)
            .group_by(norm).order_by(func.count().desc(), norm).limit(limit)
        ).all()
        zero_rows = s.execute(
            select(norm, func.count().label("n")).where(*where, QueryLogEntry.result_count == 0)
            .group_by(norm).order_by(func.count().desc(), norm).limit(limit)
        ).all()
        tenants = s.execute(
            select(QueryLogEntry.tenant, func.count().label("n")).where(*where)
            .group_by(QueryLogEntry.tenant).order_by(func.count().desc(), QueryLogEntry.tenant)
        ).all()
        latencies = sorted(
            s.scalars(
                select(QueryLogEntry.latency_ms).where(*where)
                .order_by(QueryLogEntry.created_at.desc()).limit(LATENCY_SAMPLE)
            )
        )
    total, zero, hits = int(total), int(zero), int(hits)
    return {
        "window": {"since": start.isoformat() + "Z", "until": now.isoformat() + "Z", "seconds": since.total_seconds()},
        "tenant": tenant,
        "queries": total,
        "zero_result_queries": zero,
        "cache_hit_rate": round(hits / total, 4) if total else None,
        "latency_ms": {
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
            "sample": len(latencies),
        },
        "top_queries": [{"query": q, "count": int(n)} for q, n in top],
        "zero_result_top": [{"query": q, "count": int(n)} for q, n in zero_rows],
        "per_tenant": [{"tenant": t, "count": int(n)} for t, n in tenants],
    }
