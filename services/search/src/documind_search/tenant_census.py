"""Which tenants each local-mode collection holds, so that a query by a collection's only
tenant can leave out the tenant filter.

Why: qdrant-client's local mode evaluates a payload filter in Python, point by point; at 15,000
points that is ~95 % of a filtered query's time, and every DocuMind query carries the tenant
filter. A Qdrant server answers the same filter from its payload index, so the census is only
used in local mode, where one process owns the collection folder (Qdrant's lock), every write
goes through this process's ``VectorIndex`` and the census can therefore be kept exact:

- a collection's tenants are counted once (``facet`` on ``tenant``) when a query first needs them;
- every upsert notes its points' tenants; an entry that lacks one of them is dropped, so an
  entry only ever holds at least the tenants its collection has (deletions only shrink a
  collection).

Isolation never rests on the census alone: a query that skipped the filter still drops any hit
of another tenant and runs again with the filter (``VectorIndex.search``)."""

from __future__ import annotations

import threading
from typing import Callable, Iterable


class TenantCensus:
    def __init__(self) -> None:
        self._tenants: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def only_tenant_is(self, collection: str, tenant: str, count: Callable[[str], Iterable[str]]) -> bool:
        """True when ``collection`` holds no point of a tenant other than ``tenant``; ``count``
        lists a collection's tenants (called once per collection until an entry is dropped)."""
        with self._lock:
            known = self._tenants.get(collection)
        if known is None:
            known = frozenset(count(collection))
            with self._lock:
                self._tenants[collection] = known
        return known <= {tenant}

    def written(self, tenants: Iterable[object]) -> None:
        """Points of ``tenants`` were written to some collection: forget every entry missing one."""
        new = {t for t in tenants if isinstance(t, str)}
        with self._lock:
            for name in [n for n, known in self._tenants.items() if not new <= known]:
                del self._tenants[name]

    def forget(self) -> None:
        with self._lock:
            self._tenants.clear()
