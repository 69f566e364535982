"""Query-log retention: rows older than the retention period are deleted (0 = keep forever)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from documind.contracts import PruneQueryLog
from documind.logging import get_logger
from documind.query_log import QueryLog
from documind.runtime import Runtime


@dataclass
class QueryLogRetention:
    runtime: Runtime

    def run(self, work: PruneQueryLog) -> dict:
        days = work.retention_days or self.runtime.settings.query_log_retention_days
        if days <= 0:
            return {"pruned": 0, "retention_days": 0}
        pruned = QueryLog(self.runtime.sessions).prune(timedelta(days=days))
        if pruned:
            get_logger("documind.retention").info("query log pruned", rows=pruned, retention_days=days)
        return {"pruned": pruned, "retention_days": days}
