"""Cleanup on a real SQLite database and file store: rows past retention go in batches,
nothing else does; a dry run counts the same and removes nothing; files no live document
references go once past the grace period, files of live documents never."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from documind.db.engine import build_session_factory, transaction
from documind.db.migrate import upgrade
from documind.db.models import (
    Chunk, DeadLetter, Document, DocumentStatus, QueryLogEntry, ScheduledRun, Stage, StageName, StageState, utcnow,
)
from documind.settings import load_settings
from documind_maintenance.cleanup import CORE_RULES, Cleanup, RetentionRule

OLD = utcnow() - timedelta(days=400)


@pytest.fixture()
def env(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = create_engine(url)
    settings = load_settings(
        mode="embedded", data_dir=tmp_path, database_url=url, cleanup_batch_rows=3, orphan_grace_s=60,
        temp_file_max_age_s=60, deleted_document_retention_days=7, query_log_retention_days=30,
        dead_letter_retention_days=90,
    )
    yield settings, build_session_factory(engine), tmp_path / "files", tmp_path / "tmp"
    engine.dispose()


def _doc(s, key: str, status: DocumentStatus, **kw) -> Document:  # noqa: ANN001
    d = Document(tenant="t", source_name=key, sha256=key.rjust(64, "0")[-64:], size_bytes=1, storage_key=key,
                 mime_type="text/plain", status=status, **kw)
    s.add(d)
    s.flush()
    return d


def _file(root: Path, key: str, age_s: float) -> Path:
    p = root / key
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x" * 10)
    t = time.time() - age_s
    os.utime(p, (t, t))
    return p


def _count(sessions, model) -> int:  # noqa: ANN001
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_rows_past_retention_go_in_batches_and_nothing_else(env) -> None:
    settings, sessions, files, tmp = env
    with transaction(sessions) as s:
        for i in range(7):
            s.add(QueryLogEntry(tenant="t", query=f"old {i}", mode="dense", filters={}, top_k=5, latency_ms=1,
                                result_count=0, top_ids=[], cache_hit=False, created_at=OLD))
        s.add(QueryLogEntry(tenant="t", query="new", mode="dense", filters={}, top_k=5, latency_ms=1,
                            result_count=0, top_ids=[], cache_hit=False))
        s.add(DeadLetter(message_id="a", queue="q", actor="x", payload={}, reason="r", created_at=OLD))
        s.add(DeadLetter(message_id="b", queue="q", actor="x", payload={}, reason="r"))
        gone = _doc(s, "t/aa/gone", DocumentStatus.DELETED, deleted_at=OLD, purged_at=OLD)
        unconfirmed = _doc(s, "t/aa/unconfirmed", DocumentStatus.DELETED, deleted_at=OLD)  # points not confirmed gone
        recent = _doc(s, "t/aa/recent", DocumentStatus.DELETED, deleted_at=utcnow(), purged_at=utcnow())
        live = _doc(s, "t/aa/live", DocumentStatus.COMPLETED, updated_at=OLD)
        for d in (gone, unconfirmed, recent, live):
            for i in range(5):
                s.add(Chunk(id=f"{d.id}-{i}", document_id=d.id, idx=i, generation=1, text="x", token_count=1))
            s.add(Stage(document_id=d.id, name=StageName.EXTRACT, state=StageState.DONE))
        s.add(ScheduledRun(job="j", tick=OLD, message_id="m", started_at=OLD))  # unfinished: kept
        s.add(ScheduledRun(job="j", tick=OLD + timedelta(minutes=1), message_id="m", started_at=OLD, finished_at=OLD))
        ids = {"gone": gone.id, "unconfirmed": unconfirmed.id, "recent": recent.id, "live": live.id}

    cleanup = Cleanup(sessions, settings, files, temp_root=tmp)
    dry = cleanup.run(dry_run=True)
    # Rules registered by other families (validation's, once its composition root ran in this
    # process) report 0: nothing of theirs is here.
    assert {k: n for k, n in dry.rows.items() if n} == {
        "query_log": 7, "dead_letters": 1, "scheduled_runs": 1, "deleted_documents": 1}
    assert _count(sessions, QueryLogEntry) == 8  # the dry run removed nothing

    done = cleanup.run()
    assert done.rows == dry.rows
    assert _count(sessions, QueryLogEntry) == 1
    assert _count(sessions, DeadLetter) == 1
    with sessions() as s:
        left = set(s.scalars(select(Document.id)))
        chunk_docs = set(s.scalars(select(Chunk.document_id)))
    assert left == {ids["unconfirmed"], ids["recent"], ids["live"]}
    assert chunk_docs == left  # only the purged, long-deleted document lost its rows
    assert _count(sessions, ScheduledRun) == 1
    assert not any(cleanup.run().rows.values())  # a second run finds nothing


def test_a_rule_passed_in_joins_the_cleanup(env) -> None:
    settings, sessions, files, tmp = env
    recent = utcnow() - timedelta(days=2)
    with transaction(sessions) as s:
        s.add(DeadLetter(message_id="a", queue="q", actor="x", payload={}, reason="r", created_at=recent,
                         redriven_at=recent))
        s.add(DeadLetter(message_id="b", queue="q", actor="x", payload={}, reason="r", created_at=recent))
    # What a composition root passes in for another family's table, e.g. finished validation tasks.
    extra = RetentionRule("redriven_letters", DeadLetter, DeadLetter.created_at, lambda st: 1,
                          where=lambda: DeadLetter.redriven_at.is_not(None))
    report = Cleanup(sessions, settings, files, temp_root=tmp, rules=(*CORE_RULES, extra)).run()
    assert report.rows["redriven_letters"] == 1
    with sessions() as s:
        assert list(s.scalars(select(DeadLetter.message_id))) == ["b"]
    # The default set is untouched by that run, and two rules of one name are refused.
    assert "redriven_letters" not in Cleanup(sessions, settings, files, temp_root=tmp).run().rows
    with pytest.raises(ValueError, match="same name"):
        Cleanup(sessions, settings, files, rules=(*CORE_RULES, CORE_RULES[0]))


def test_files_no_live_document_uses_go_and_live_ones_stay(env) -> None:
    settings, sessions, files, tmp = env
    hour = 3600
    with transaction(sessions) as s:
        live = _doc(s, "t/aa/live", DocumentStatus.COMPLETED)
        _doc(s, "t/bb/failed", DocumentStatus.FAILED)  # may be re-processed: keeps its file
        deleted = _doc(s, "t/cc/deleted", DocumentStatus.DELETED, deleted_at=utcnow())
        live.metadata_ = {"renditions": {"txt": f"t/renditions/{live.id}/1/text.txt"}}
        live_id, deleted_id = live.id, deleted.id
    keep = [
        _file(files, "t/aa/live", hour), _file(files, "t/bb/failed", hour),
        _file(files, f"t/renditions/{live_id}/1/text.txt", hour),
        _file(files, "t/dd/fresh-orphan", 5),  # within the grace period: an upload about to register
        _file(files, "t/.part-fresh", 5),
    ]
    remove = [
        _file(files, "t/cc/deleted", hour), _file(files, "t/ee/orphan", hour),
        _file(files, f"t/renditions/{deleted_id}/1/text.txt", hour),
        _file(files, "t/renditions/no-such-document/1/text.md", hour),
        _file(files, f"t/renditions/{live_id}/0/text.txt", hour),  # an earlier generation, not recorded
        _file(files, "t/ee/.part-abc", hour),
    ]
    (tmp / "documind-ocr-old").mkdir(parents=True)
    (tmp / "documind-ocr-old" / "page.png").write_bytes(b"png")
    os.utime(tmp / "documind-ocr-old", (time.time() - hour, time.time() - hour))
    (tmp / "documind-ocr-new").mkdir()

    cleanup = Cleanup(sessions, settings, files, temp_root=tmp)
    dry = cleanup.run(dry_run=True)
    assert dry.files == {"originals": 2, "renditions": 3, "temp": 2}
    assert all(p.exists() for p in remove)
    done = cleanup.run()
    assert done.files == dry.files and done.bytes_freed == dry.bytes_freed
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in remove)
    assert not (tmp / "documind-ocr-old").exists() and (tmp / "documind-ocr-new").exists()
    assert not (files / "t" / "renditions" / "no-such-document").exists()  # emptied folders go too
