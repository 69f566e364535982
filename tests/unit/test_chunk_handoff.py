"""A duplicate ProcessDocument must not let a PDF complete with zero chunks (issue 10 item 2).

The race: the range that assembles a PDF begins CHUNK and runs its post-assembly work (the
metadata, the searchable PDF child); a second ProcessDocument (a watchdog re-drive of the
silent stage, a redelivery) starts the document afresh and clears its chunks; the first worker
then hands on ``chunk_count = n`` to embed and index, which find nothing to do and complete it.

Three guards, each tested: the CHUNK stage's heartbeat lasts until the hand-off; clearing or
replacing the chunks is fenced once the document is past CHUNK (and a hand-off whose rows
changed under it is dropped); embed and index refuse a document whose rows differ from its
``chunk_count``. Embedded runtime: StubBroker, SQLite in tmp_path, the ingest pipeline called
directly so the interleaving is exact."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import func, select, update

from documind.contracts import EmbedChunks, ExtractPages, IndexChunks, ProcessDocument
from documind.db.engine import transaction
from documind.db.models import Chunk, Stage, StageName, StageState, utcnow
from documind.embedding import Encoder
from documind.errors import Fenced, InconsistentChunks
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind.storage import content_key, sha256_of
from documind_embed.embedder import ChunkEmbedder
from documind_ingest import pipeline as ingest_pipeline
from documind_ingest.chunk_store import replace_chunks
from documind_ingest.chunking import ChunkDraft
from documind_ingest.pipeline import IngestPipeline
from documind_ingest.range_store import clear_ranges
from documind_search.indexer import Indexer
from documind_search.vector_index import VectorIndex

from tests.integration.pdf_samples import text_pdf

HEARTBEAT_S = 0.05


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    settings = load_settings(
        data_dir=tmp_path / "data", heartbeat_interval_s=HEARTBEAT_S, renditions=False, ocr_languages="eng",
    )
    rt = build_runtime(settings, configure_logs=False)
    yield rt
    rt.close()


def register_pdf(runtime: Runtime, tmp_path: Path) -> tuple[str, int]:
    path = text_pdf(tmp_path / "manual-2p.pdf", count=2)
    sha = sha256_of(path)
    key = content_key("acme", sha)
    runtime.storage.put_file(key, path)
    reg = runtime.status.register(
        Upload(tenant="acme", source_name=path.name, sha256=sha, size_bytes=path.stat().st_size, storage_key=key)
    )
    return reg.document_id, reg.generation


def sent(runtime: Runtime, contract: type) -> list[dict]:
    """Payloads of the messages waiting for ``contract``'s actor (no worker consumes them)."""
    import dramatiq

    messages = [
        dramatiq.Message.decode(raw) for q in runtime.broker.get_declared_queues()
        for raw in list(runtime.broker.queues[q].queue)
    ]
    return [m.args[0] for m in messages if m.actor_name == contract.ACTOR]


def the_range(runtime: Runtime, doc_id: str) -> ExtractPages:
    (payload,) = [p for p in sent(runtime, ExtractPages) if p["document_id"] == doc_id][-1:]
    return ExtractPages.parse(payload)


def chunk_rows(runtime: Runtime, doc_id: str) -> int:
    with runtime.sessions() as s:
        return int(s.scalar(select(func.count()).where(Chunk.document_id == doc_id)) or 0)


def stage(runtime: Runtime, doc_id: str, name: StageName) -> Stage | None:
    doc = runtime.status.get(doc_id)
    assert doc is not None
    return next((st for st in doc.stages if st.name == name), None)


def during_post_assembly(monkeypatch: pytest.MonkeyPatch, action: Any) -> list[Any]:
    """Run ``action()`` inside the assembling range's post-assembly work (while it reads the
    document's metadata, as it would during the searchable PDF). Returns its results."""
    results: list[Any] = []
    real = ingest_pipeline.document_metadata

    def metadata_with_interleaving(*args: Any, **kwargs: Any) -> Any:
        results.append(action())
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_pipeline, "document_metadata", metadata_with_interleaving)
    return results


# ---- guard 1: the CHUNK stage's heartbeat covers all post-assembly work ----------------------


def test_post_assembly_work_keeps_the_chunk_stage_heartbeat(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc_id, gen = register_pdf(runtime, tmp_path)
    pipeline = IngestPipeline(runtime)
    pipeline.process(ProcessDocument(document_id=doc_id, generation=gen))
    old = utcnow() - timedelta(hours=1)

    def silence_then_look() -> Any:
        with transaction(runtime.sessions) as s:
            s.execute(update(Stage).where(Stage.document_id == doc_id, Stage.name == StageName.CHUNK)
                      .values(heartbeat_at=old))
        time.sleep(HEARTBEAT_S * 10)  # long post-assembly work, e.g. the searchable PDF
        return stage(runtime, doc_id, StageName.CHUNK).heartbeat_at  # type: ignore[union-attr]

    seen = during_post_assembly(monkeypatch, silence_then_look)
    pipeline.extract_pages(the_range(runtime, doc_id))
    assert seen and seen[0] > old, "the CHUNK stage went silent during post-assembly work"
    assert runtime.status.stale_stages(timedelta(minutes=10)) == []


# ---- guard 2: the chunk set is fenced once handed on; a changed set is not handed on ---------


def test_duplicate_process_document_after_the_hand_off_is_dropped(runtime: Runtime, tmp_path: Path) -> None:
    doc_id, gen = register_pdf(runtime, tmp_path)
    pipeline = IngestPipeline(runtime)
    pipeline.process(ProcessDocument(document_id=doc_id, generation=gen))
    pipeline.extract_pages(the_range(runtime, doc_id))
    n = runtime.status.get(doc_id).chunk_count  # type: ignore[union-attr]
    assert n and chunk_rows(runtime, doc_id) == n
    assert stage(runtime, doc_id, StageName.EMBED).state is StageState.PENDING  # type: ignore[union-attr]

    with pytest.raises(Fenced):
        pipeline.process(ProcessDocument(document_id=doc_id, generation=gen))
    assert chunk_rows(runtime, doc_id) == n  # embed and index still have their chunks
    doc = runtime.status.get(doc_id)
    assert doc is not None and doc.stage is StageName.EMBED  # no stage was re-begun
    assert stage(runtime, doc_id, StageName.VALIDATE).attempt == 1  # type: ignore[union-attr]


def test_clearing_or_replacing_chunks_is_fenced_once_past_chunking(runtime: Runtime, tmp_path: Path) -> None:
    doc_id, gen = register_pdf(runtime, tmp_path)
    drafts = [ChunkDraft(f"chunk {i}", 2, 1, 1, ["NarrativeText"]) for i in range(3)]
    replace_chunks(runtime.sessions, doc_id, gen, drafts)
    with runtime.status.step(doc_id, gen) as step:
        step.begin(StageName.CHUNK)
    clear_ranges(runtime.sessions, doc_id, gen)  # still chunking: a re-drive may start afresh
    assert chunk_rows(runtime, doc_id) == 0
    replace_chunks(runtime.sessions, doc_id, gen, drafts)
    with runtime.status.step(doc_id, gen) as step:
        step.set(chunk_count=3)
        step.finish(StageName.CHUNK)
        step.hand_off(StageName.EMBED, units_total=3)
    with pytest.raises(Fenced):
        clear_ranges(runtime.sessions, doc_id, gen)
    with pytest.raises(Fenced):
        replace_chunks(runtime.sessions, doc_id, gen, drafts[:1])
    assert chunk_rows(runtime, doc_id) == 3


def test_a_re_drive_during_post_assembly_never_hands_on_missing_chunks(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's race, step by step: the duplicate clears the chunks while the assembling
    range works; that range must not hand on; the duplicate's own range then does, intact."""
    doc_id, gen = register_pdf(runtime, tmp_path)
    pipeline = IngestPipeline(runtime)
    pipeline.process(ProcessDocument(document_id=doc_id, generation=gen))
    first_range = the_range(runtime, doc_id)
    duplicate = IngestPipeline(runtime)
    during_post_assembly(monkeypatch, lambda: duplicate.process(ProcessDocument(document_id=doc_id, generation=gen)))

    with pytest.raises(Fenced):
        pipeline.extract_pages(first_range)
    assert sent(runtime, EmbedChunks) == []
    doc = runtime.status.get(doc_id)
    assert doc is not None and doc.chunk_count is None and stage(runtime, doc_id, StageName.EMBED) is None

    monkeypatch.undo()
    duplicate.extract_pages(the_range(runtime, doc_id))  # the re-drive's range lands
    doc = runtime.status.get(doc_id)
    assert doc is not None and doc.chunk_count and chunk_rows(runtime, doc_id) == doc.chunk_count
    assert sent(runtime, EmbedChunks)


# ---- guard 3: embed and index refuse rows that differ from chunk_count -----------------------


def handed_on_without_rows(runtime: Runtime, tmp_path: Path, claimed: int = 3) -> tuple[str, int]:
    """The state the race left behind: EMBED handed off for ``claimed`` chunks, none stored."""
    doc_id, gen = register_pdf(runtime, tmp_path)
    with runtime.status.step(doc_id, gen) as step:
        step.begin(StageName.CHUNK)
        step.set(chunk_count=claimed)
        step.finish(StageName.CHUNK)
        step.hand_off(StageName.EMBED, units_total=claimed)
    return doc_id, gen


def test_embedder_refuses_a_document_whose_rows_do_not_match_chunk_count(runtime: Runtime, tmp_path: Path) -> None:
    doc_id, gen = handed_on_without_rows(runtime, tmp_path)
    embedder = ChunkEmbedder(runtime, Encoder(runtime.settings.embedding_model))
    with pytest.raises(InconsistentChunks, match="0 chunk rows but chunk_count 3"):
        embedder.embed(EmbedChunks(document_id=doc_id, generation=gen, start=0, end=3))
    assert stage(runtime, doc_id, StageName.EMBED).state is not StageState.DONE  # type: ignore[union-attr]
    assert sent(runtime, IndexChunks) == []


def test_indexer_never_completes_a_document_whose_rows_do_not_match_chunk_count(
    runtime: Runtime, tmp_path: Path
) -> None:
    from qdrant_client import QdrantClient

    doc_id, gen = handed_on_without_rows(runtime, tmp_path)
    with runtime.status.step(doc_id, gen) as step:
        step.finish(StageName.EMBED)
    encoder = Encoder(runtime.settings.embedding_model)
    index = VectorIndex(QdrantClient(location=":memory:"), "chunks", encoder.model_name, encoder.dimension)
    with pytest.raises(InconsistentChunks, match="0 chunk rows but chunk_count 3"):
        Indexer(runtime, index).index_chunks(IndexChunks(document_id=doc_id, generation=gen, start=0, end=3))
    doc = runtime.status.get(doc_id)
    assert doc is not None and doc.completed_at is None and doc.status.value == "processing"
