"""documind_search.filters: the Qdrant filter of a query — the tenant always."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from qdrant_client import models

from documind_search.filters import SearchFilters, payload_timestamp


def _conditions(f: SearchFilters) -> dict[str, models.FieldCondition]:
    flt = f.to_qdrant()
    assert not flt.should and not flt.must_not
    return {c.key: c for c in flt.must}


def test_tenant_only() -> None:
    conds = _conditions(SearchFilters(tenant="acme"))
    assert list(conds) == ["tenant"]
    assert conds["tenant"].match == models.MatchValue(value="acme")


def test_every_filter() -> None:
    since, until = datetime(2026, 1, 1), datetime(2026, 2, 1, tzinfo=timezone(timedelta(hours=2)))
    conds = _conditions(SearchFilters(
        tenant="acme", document_ids=("d1", "d2"), mime_types=("application/pdf",), labels=("invoice",),
        entities=("PERSON:ann lee", "IBAN:gb82west12345698765432"), created_since=since, created_until=until,
    ))
    assert conds["tenant"].match == models.MatchValue(value="acme")
    assert conds["document_id"].match == models.MatchAny(any=["d1", "d2"])
    assert conds["mime_type"].match == models.MatchAny(any=["application/pdf"])
    assert conds["labels"].match == models.MatchAny(any=["invoice"])
    assert conds["entities"].match == models.MatchAny(any=["PERSON:ann lee", "IBAN:gb82west12345698765432"])
    rng = conds["created_at"].range
    assert isinstance(rng, models.DatetimeRange)
    assert rng.gte == datetime(2026, 1, 1, tzinfo=timezone.utc)  # naive = UTC
    assert rng.lt == datetime(2026, 1, 31, 22, tzinfo=timezone.utc)
    assert rng.lte is None and rng.gt is None


def test_open_ended_date_range() -> None:
    rng = _conditions(SearchFilters(tenant="t", created_until=datetime(2026, 1, 1)))["created_at"].range
    assert rng.gte is None and rng.lt == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_bad_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="tenant"):
        SearchFilters(tenant="")
    with pytest.raises(ValueError, match="earlier"):
        SearchFilters(tenant="t", created_since=datetime(2026, 2, 1), created_until=datetime(2026, 1, 1))


def test_payload_timestamp_is_utc_rfc3339() -> None:
    assert payload_timestamp(datetime(2026, 3, 4, 5, 6, 7)) == "2026-03-04T05:06:07+00:00"
