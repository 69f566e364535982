"""Cleanup that never deletes live data (``documind cleanup``, the scheduled ``maintenance.cleanup``).

**Database**: retention rules (``CORE_RULES``, plus what the maintenance worker's composition
root passes in for other families' tables), each deleting rows past its retention in batches of
``DOCUMIND_CLEANUP_BATCH_ROWS``, one short transaction per batch, so no lock is held long.
Deleted documents go last: once their points removal is confirmed (``purged_at``) and the
deletion is older than ``DOCUMIND_DELETED_DOCUMENT_RETENTION_DAYS``, their chunks, stages and
``page_range_results`` rows, then the document row.

**Files**: an object is removed only when (1) it is older than ``DOCUMIND_ORPHAN_GRACE_S``,
and (2) no live document references it, checked under the row locks of the documents that
name it. Ingest stores the upload *before* it registers the document (and re-touches an
object it finds already stored), and renditions are written before they are recorded, so the
grace period covers the moment in between; the row locks cover a re-ingest of a deleted
document's bytes racing the check. Live: any document whose ``storage_key`` is the object
and whose status is not ``deleted`` (a failed or cancelled document can be processed again);
for a rendition, a document not deleted whose recorded renditions name it or whose current
generation it belongs to. Temp files (``.part-*`` left by a crash mid-write in the store,
``documind-*`` folders in the system temp folder) go once older than
``DOCUMIND_TEMP_FILE_MAX_AGE_S``.

``dry_run`` reports what would go and removes nothing."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

from sqlalchemy import ColumnElement, delete, func, select, tuple_

from documind.db.engine import SessionFactory, transaction
from documind.db.models import (
    Chunk, DeadLetter, Document, DocumentStatus, PageRangeResult, QueryLogEntry, ScheduledRun, Stage, utcnow,
)
from documind.logging import get_logger
from documind.renditions import recorded_keys
from documind.settings import Settings


@dataclass(frozen=True)
class RetentionRule:
    """Rows of ``model`` whose ``age_column`` is older than ``days(settings)`` days go (0 =
    keep forever); ``where`` narrows which rows may go at all (e.g. finished tasks only)."""

    name: str
    model: type
    age_column: Any
    days: Callable[[Settings], int]
    where: Callable[[], ColumnElement[bool]] | None = None


# The maintenance service's own tables; another family's rule (e.g. finished validation
# tasks) is passed in by the worker's composition root, never added to a module-level list.
CORE_RULES: tuple[RetentionRule, ...] = (
    RetentionRule("query_log", QueryLogEntry, QueryLogEntry.created_at, lambda st: st.query_log_retention_days),
    RetentionRule("dead_letters", DeadLetter, DeadLetter.created_at, lambda st: st.dead_letter_retention_days),
    # One row per job and tick (a watchdog every minute: half a million a year); unfinished
    # ones stay, as the record of a run that died.
    RetentionRule("scheduled_runs", ScheduledRun, ScheduledRun.started_at, lambda st: st.scheduled_run_retention_days,
                  where=lambda: ScheduledRun.finished_at.is_not(None)),
)


@dataclass
class CleanupReport:
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=lambda: {"originals": 0, "renditions": 0, "temp": 0})
    bytes_freed: int = 0
    sample: list[str] = field(default_factory=list)  # up to 20 removed (or removable) keys

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "rows": self.rows, "files": self.files,
                "bytes_freed": self.bytes_freed, "sample": self.sample}

    def note(self, key: str) -> None:
        if len(self.sample) < 20:
            self.sample.append(key)


class Cleanup:
    def __init__(self, sessions: SessionFactory, settings: Settings, storage_root: Path,
                 temp_root: Path | None = None, rules: Sequence[RetentionRule] = CORE_RULES) -> None:
        self.sessions = sessions
        self.settings = settings
        self.storage_root = storage_root
        self.temp_root = temp_root or Path(tempfile.gettempdir())
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"retention rules with the same name: {names}")
        self.rules = tuple(rules)
        self.batch = settings.cleanup_batch_rows
        self.log = get_logger("documind.cleanup")

    def run(self, dry_run: bool = False) -> CleanupReport:
        report = CleanupReport(dry_run)
        for rule in self.rules:
            report.rows[rule.name] = self._apply_rule(rule, dry_run)
        report.rows["deleted_documents"] = self._deleted_documents(dry_run)
        self._files(report, dry_run)
        if not dry_run and (any(report.rows.values()) or any(report.files.values())):
            self.log.info("cleanup done", rows=report.rows, files=report.files, bytes_freed=report.bytes_freed)
        return report

    # ---- rows ------------------------------------------------------------------------------
    def _apply_rule(self, rule: RetentionRule, dry_run: bool) -> int:
        days = rule.days(self.settings)
        if days <= 0:
            return 0
        cond = rule.age_column < utcnow() - timedelta(days=days)
        if rule.where is not None:
            cond = cond & rule.where()
        if dry_run:
            with self.sessions() as s:
                return int(s.scalar(select(func.count()).select_from(rule.model).where(cond)) or 0)
        # The whole primary key (scheduled_runs' is (job, tick)): a batch is exactly its rows.
        pk = tuple_(*rule.model.__table__.primary_key.columns)
        removed = 0
        while True:
            with transaction(self.sessions) as s:
                keys = [tuple(r) for r in s.execute(select(*pk.clauses).where(cond).limit(self.batch))]
                if not keys:
                    return removed
                s.execute(delete(rule.model).where(pk.in_(keys)))
            removed += len(keys)

    def _deleted_documents(self, dry_run: bool) -> int:
        days = self.settings.deleted_document_retention_days
        if days <= 0:
            return 0
        cond = (
            (Document.status == DocumentStatus.DELETED)
            & Document.purged_at.is_not(None)
            & (Document.deleted_at < utcnow() - timedelta(days=days))
        )
        if dry_run:
            with self.sessions() as s:
                return int(s.scalar(select(func.count()).select_from(Document).where(cond)) or 0)
        removed = 0
        while True:
            with self.sessions() as s:
                ids = list(s.scalars(select(Document.id).where(cond).limit(max(1, self.batch // 100))))
            if not ids:
                return removed
            for doc_id in ids:
                # Children first, in batches (a document may have many thousand chunks).
                for model in (Chunk, PageRangeResult, Stage):
                    self._delete_children(model, doc_id)
                with transaction(self.sessions) as s:
                    doc = s.scalar(select(Document).where(Document.id == doc_id).with_for_update())
                    if doc is not None and doc.status is DocumentStatus.DELETED:
                        s.delete(doc)
                        removed += 1

    def _delete_children(self, model: type, doc_id: str) -> None:
        pk = next(iter(model.__table__.primary_key.columns))
        while True:
            with transaction(self.sessions) as s:
                ids = list(s.scalars(select(pk).where(model.document_id == doc_id).limit(self.batch)))
                if not ids:
                    return
                s.execute(delete(model).where(pk.in_(ids)))

    # ---- files -----------------------------------------------------------------------------
    def _files(self, report: CleanupReport, dry_run: bool) -> None:
        now = time.time()
        grace = self.settings.orphan_grace_s
        temp_age = self.settings.temp_file_max_age_s
        root = self.storage_root
        if root.exists():
            for path in sorted(root.rglob("*")):
                if not path.is_file():
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                key = path.relative_to(root).as_posix()
                if path.name.startswith(".part-"):
                    if now - st.st_mtime > temp_age:
                        self._remove(report, "temp", path, key, st.st_size, dry_run)
                    continue
                if now - st.st_mtime <= grace:
                    continue  # may be an upload or rendition about to be recorded
                parts = key.split("/")
                if len(parts) == 5 and parts[1] == "renditions":
                    if self._rendition_orphan(key, parts[2], parts[3]):
                        self._remove(report, "renditions", path, key, st.st_size, dry_run)
                elif len(parts) == 3:
                    self._original_orphan(report, path, key, grace, dry_run)
        for tmp in self.temp_root.glob("documind-*"):
            try:
                age = now - tmp.stat().st_mtime
            except FileNotFoundError:
                continue
            if age > temp_age:
                size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()) if tmp.is_dir() else tmp.stat().st_size
                self._remove(report, "temp", tmp, str(tmp), size, dry_run)

    def _rendition_orphan(self, key: str, doc_id: str, generation: str) -> bool:
        with self.sessions() as s:
            doc = s.get(Document, doc_id)
            if doc is None or doc.status is DocumentStatus.DELETED:
                return True
            return key not in recorded_keys(doc.metadata_).values() and generation != str(doc.generation)

    def _original_orphan(self, report: CleanupReport, path: Path, key: str, grace: float, dry_run: bool) -> None:
        with transaction(self.sessions) as s:
            # Lock every document naming the object: a re-ingest of these bytes registers
            # under the same row lock, so it waits for this decision (and touches the file).
            docs = s.scalars(select(Document).where(Document.storage_key == key).with_for_update()).all()
            if any(d.status is not DocumentStatus.DELETED for d in docs):
                return
            try:
                st = path.stat()
            except FileNotFoundError:
                return
            if time.time() - st.st_mtime <= grace:
                return  # re-uploaded since we looked
            self._remove(report, "originals", path, key, st.st_size, dry_run)

    def _remove(self, report: CleanupReport, kind: str, path: Path, key: str, size: int, dry_run: bool) -> None:
        report.files[kind] += 1
        report.bytes_freed += size
        report.note(key)
        if dry_run:
            return
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
            _prune_empty(path.parent, self.storage_root)


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove folders left empty, up to (not including) the store's root."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent

