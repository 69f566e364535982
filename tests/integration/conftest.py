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
