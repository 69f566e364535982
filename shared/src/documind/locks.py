"""Locks that keep two runs of one job, or two embedded processes, from working at once.

- ``JobLock``: one run of a periodic job at a time (the watchdog: a ``recover`` alongside the
  cron, or a run slower than its schedule, would re-drive the same documents twice).
  Postgres: a session advisory lock, released by the server if the holder dies. SQLite
  (embedded): a file lock next to the database, released by the OS likewise.
- ``DataFolderLock``: one embedded process per data folder (its in-process queues are the
  only record of its work in flight: a second process would take that work for lost)."""

from __future__ import annotations

import hashlib
import os
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Iterator, Protocol

from filelock import FileLock, Timeout
from sqlalchemy import Engine, text

from documind.errors import DocumindError


class JobLock(Protocol):
    def hold(self, name: str) -> AbstractContextManager[bool]:
        """Context manager: True if this run holds the lock for its duration, False if another
        run holds it (the caller skips its run)."""


def _advisory_key(name: str) -> int:
    # A stable signed 64-bit key per job name (Postgres advisory locks take a bigint).
    return int.from_bytes(hashlib.sha256(f"documind:{name}".encode()).digest()[:8], "big", signed=True)


class PostgresJobLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        key = _advisory_key(name)
        # A connection of its own, held for the run: the lock belongs to its session.
        with self.engine.connect() as conn:
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()


class FileJobLock:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.folder / f"{name}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()


def build_job_lock(engine: Engine, data_dir: Path) -> JobLock:
    if engine.dialect.name == "postgresql":
        return PostgresJobLock(engine)
    return FileJobLock(data_dir / "locks")


class DataFolderBusy(DocumindError):
    pass


class DataFolderLock:
    """Held while an embedded process runs workers on a data folder. The lock file is
    truncated by every attempt to take it, so the holder's pid lives in a file beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = FileLock(folder / ".documind.lock")
        self._pid_file = folder / ".documind.pid"

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise DataFolderBusy(f"data folder {self.folder} is in use by process {self._holder()}") from None
        self._pid_file.write_text(str(os.getpid()))

    def _holder(self) -> str:
        try:
            return self._pid_file.read_text().strip() or "(unknown)"
        except OSError:
            return "(unknown)"

    def release(self) -> None:
        if self._lock.is_locked:
            self._pid_file.unlink(missing_ok=True)
            self._lock.release()
