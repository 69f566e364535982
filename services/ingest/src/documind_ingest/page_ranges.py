"""Splitting a paged document into page-range work units (one ingest message each), so a
619-page PDF is extracted in bounded memory, retried range by range, and reports progress."""

from __future__ import annotations


def plan_ranges(total_pages: int, pages_per_range: int) -> list[tuple[int, int]]:
    """1-based inclusive ``(first, last)`` ranges covering ``1..total_pages`` in order."""
    if total_pages < 1:
        raise ValueError("a document to split has at least one page")
    if pages_per_range < 1:
        raise ValueError("pages_per_range must be at least 1")
    return [
        (first, min(first + pages_per_range - 1, total_pages))
        for first in range(1, total_pages + 1, pages_per_range)
    ]
