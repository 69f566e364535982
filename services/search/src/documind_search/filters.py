"""What a query may see, as one Qdrant filter: always the tenant, then any of document ids,
MIME types, labels, entities and a creation-date range (payload fields written by ``points.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from qdrant_client import models


@dataclass(frozen=True)
class SearchFilters:
    tenant: str
    document_ids: tuple[str, ...] = ()
    mime_types: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()  # TYPE:value keys (documind.entity_keys)
    created_since: datetime | None = None  # inclusive
    created_until: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        if not self.tenant:
            raise ValueError("a search needs a tenant")
        if self.created_since and self.created_until and _utc(self.created_since) >= _utc(self.created_until):
            raise ValueError("created_since must be earlier than created_until")

    def to_qdrant(self) -> models.Filter:
        # Always applied: a query never sees another tenant's chunks.
        tenant = models.FieldCondition(key="tenant", match=models.MatchValue(value=self.tenant))
        return models.Filter(must=[tenant, *self._narrowing()])

    def without_tenant(self) -> models.Filter | None:
        """The filter minus the tenant condition (None if nothing is left), for a collection
        known to hold only this tenant's points (``tenant_census.py``)."""
        must = self._narrowing()
        return models.Filter(must=must) if must else None

    def _narrowing(self) -> list[models.Condition]:
        must: list[models.Condition] = []
        if self.document_ids:
            must.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=list(self.document_ids))))
        if self.mime_types:
            must.append(models.FieldCondition(key="mime_type", match=models.MatchAny(any=list(self.mime_types))))
        if self.labels:
            # ``labels`` is a list on the point: any shared label matches.
            must.append(models.FieldCondition(key="labels", match=models.MatchAny(any=list(self.labels))))
        if self.entities:
            # ``entities`` is a list of keys on the point: any shared key matches.
            must.append(models.FieldCondition(key="entities", match=models.MatchAny(any=list(self.entities))))
        if self.created_since or self.created_until:
            must.append(
                models.FieldCondition(
                    key="created_at",
                    range=models.DatetimeRange(
                        gte=_utc(self.created_since) if self.created_since else None,
                        lt=_utc(self.created_until) if self.created_until else None,
                    ),
                )
            )
        return must


def _utc(dt: datetime) -> datetime:
    """Naive datetimes are UTC (as the database stores them)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def payload_timestamp(dt: datetime) -> str:
    """RFC 3339 in UTC, the form Qdrant's datetime index and range filter read."""
    return _utc(dt).isoformat()
