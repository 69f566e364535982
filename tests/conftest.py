"""Shared test set-up: offline environment, the generated and the real corpus, and a clean
settings env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.made_corpus import MadeCorpus

# Nothing may reach a model hub or telemetry host, in any process the tests start.
os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "true"})

REPO = Path(__file__).resolve().parents[1]
# The optional real corpus: a clone does without it (the generated corpus covers the same
# capabilities); where it exists, the tests about its particular documents run too.
REAL_CORPUS = Path(os.environ.get("DOCUMIND_CORPUS", REPO.parent / "shared" / "corpus"))
EXAMPLES = REPO / "examples" / "docs"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "large: the largest corpus files, real and generated (minutes each)")
    config.addinivalue_line("markers", "integration: needs real Postgres/Redis or worker processes")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No DOCUMIND_* variables from the caller's shell leak into a test."""
    for key in list(os.environ):
        if key.startswith("DOCUMIND_"):
            monkeypatch.delenv(key)
    return monkeypatch


def require_real_corpus() -> Path:
    if not REAL_CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {REAL_CORPUS} (set DOCUMIND_CORPUS); "
                    "the generated corpus covers the same capabilities")
    return REAL_CORPUS


@pytest.fixture(scope="session")
def real_corpus() -> Path:
    return require_real_corpus()


@pytest.fixture(scope="session")
def made_corpus(tmp_path_factory: pytest.TempPathFactory) -> MadeCorpus:
    """Generated on first use of each file, kept for the session (see tests/made_corpus.py)."""
    return MadeCorpus(tmp_path_factory.mktemp("made-corpus"))
