from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.harness import Stack, distributed_stack, mode_stack, teardown


@pytest.fixture(scope="session", params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The same tests run against both modes."""
    with mode_stack(request.param, "stack", redis_db=14) as s:
        yield s


@pytest.fixture(scope="session")
def corpus_stack() -> Iterator[Stack]:
    """A distributed stack of its own for the whole-corpus tests."""
    root = Path(tempfile.mkdtemp(prefix="documind-corpus-"))
    s, db = distributed_stack(root, redis_db=13)
    try:
        yield s
    finally:
        teardown(s, db)


@pytest.fixture(scope="session")
def large_corpus_stack() -> Iterator[Stack]:
    """The largest files' own distributed stack, with chunk enrichment off.

    Enrichment runs after a document is searchable, so the large-file tests never waited for
    it; with it on, their ~14,000 chunks went on being enriched in the background (spaCy,
    over 23 CPU-minutes measured in a parallel run, and still going when it ended) after
    those tests had passed, taking the CPU from every other test file and from the large
    files' own embedding in the same worker. What these tests show is that a large file ends final and searchable with every
    chunk in the model's window; the enrichment of the corpus's formats is shown on
    ``corpus_stack``, which waits for it."""
    root = Path(tempfile.mkdtemp(prefix="documind-large-corpus-"))
    s, db = distributed_stack(root, redis_db=13, extra_env={"DOCUMIND_ENRICHMENT_ENABLED": "false"})
    try:
        yield s
    finally:
        teardown(s, db)
