"""Page-range planning: ranges cover every page once, in order, none larger than asked."""

from __future__ import annotations

import pytest

from documind_ingest.page_ranges import plan_ranges


@pytest.mark.parametrize("total,size", [(1, 25), (25, 25), (26, 25), (619, 25), (7, 1), (100, 30)])
def test_ranges_cover_every_page_once_in_order(total: int, size: int) -> None:
    ranges = plan_ranges(total, size)
    pages = [p for first, last in ranges for p in range(first, last + 1)]
    assert pages == list(range(1, total + 1))
    assert all(1 <= last - first + 1 <= size for first, last in ranges)
    assert len(ranges) == -(-total // size)


def test_619_pages_in_25_page_ranges() -> None:
    ranges = plan_ranges(619, 25)
    assert ranges[0] == (1, 25) and ranges[1] == (26, 50) and ranges[-1] == (601, 619)


@pytest.mark.parametrize("total,size", [(0, 25), (10, 0)])
def test_nonsense_is_refused(total: int, size: int) -> None:
    with pytest.raises(ValueError):
        plan_ranges(total, size)
