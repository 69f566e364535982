"""Shared test set-up: offline environment, the corpus location, and a clean settings env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing may reach a model hub or telemetry host, in any process the tests start.
os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "true"})

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DOCUMIND_CORPUS", REPO.parent / "shared" / "corpus"))
EXAMPLES = REPO / "examples" / "docs"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "large: the four largest corpus files (minutes each)")
    config.addinivalue_line("markers", "integration: needs real Postgres/Redis or worker processes")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No DOCUMIND_* variables from the caller's shell leak into a test."""
    for key in list(os.environ):
        if key.startswith("DOCUMIND_"):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS} (set DOCUMIND_CORPUS)")
    return CORPUS
