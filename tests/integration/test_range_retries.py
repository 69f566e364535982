"""A transient failure in one page range retries that range only: an embedded runtime (SQLite,
StubBroker, the real actors and Retries middleware, Qdrant local mode) in this process, with
the page reader of range 3-4 failing once with a connection error."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.pdf_samples import text_pdf

pytestmark = pytest.mark.integration


def test_transient_failure_retries_only_its_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import documind_ingest.pipeline as pipeline
    from documind.contracts import ProcessDocument
    from documind.embedded import EmbeddedWorkers
    from documind.runtime import build_runtime
    from documind.settings import load_settings
    from documind.status import Upload
    from documind.storage import content_key, sha256_of

    calls: Counter = Counter()
    real_iter_pages = pipeline.iter_pages

    def flaky_iter_pages(path, first, last, **kw):  # noqa: ANN001, ANN202
        calls[(first, last)] += 1
        if (first, last) == (3, 4) and calls[(first, last)] == 1:
            raise ConnectionError("file store briefly unreachable")
        return real_iter_pages(path, first, last, **kw)

    monkeypatch.setattr(pipeline, "iter_pages", flaky_iter_pages)
    for key in [k for k in __import__("os").environ if k.startswith("DOCUMIND_")]:
        monkeypatch.delenv(key)
    settings = load_settings(
        mode="embedded", data_dir=tmp_path / "data", ingest_pages_per_range=2,
        min_backoff_ms=100, max_backoff_ms=500, log_json=True,
    )
    rt = build_runtime(settings, configure_logs=False)
    workers = EmbeddedWorkers(rt)
    workers.start()
    try:
        path = text_pdf(tmp_path / "manual-7p.pdf")
        digest = sha256_of(path)
        key = content_key("default", digest)
        rt.storage.put_file(key, path)
        reg = rt.status.register(Upload("default", path.name, digest, path.stat().st_size, key))
        rt.bus.send(ProcessDocument(document_id=reg.document_id, generation=reg.generation))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            doc = rt.status.get(reg.document_id)
            if doc.status.is_final:
                break
            time.sleep(0.2)
        assert doc.status.value == "completed", doc.error
        assert calls == {(1, 2): 1, (3, 4): 2, (5, 6): 1, (7, 7): 1}
        from sqlalchemy import select

        from documind.db.models import Chunk

        with rt.sessions() as s:
            rows = s.execute(
                select(Chunk.idx, Chunk.page_start).where(Chunk.document_id == doc.id).order_by(Chunk.idx)
            ).all()
        assert [r.idx for r in rows] == list(range(doc.chunk_count))
        assert {r.page_start for r in rows} >= {3, 4}
    finally:
        workers.stop()
        rt.close()
