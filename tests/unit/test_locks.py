"""One watchdog run at a time (the SQLite/embedded file lock) and one embedded process per
data folder. The Postgres advisory lock is tested against the real server in
tests/integration/test_job_lock.py."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from documind.contracts import RunWatchdog
from documind.locks import DataFolderBusy, DataFolderLock, FileJobLock, build_job_lock
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind_maintenance.watchdog import Watchdog


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path, worker_threads=1), configure_logs=False)
    yield rt
    rt.close()


def test_a_job_lock_is_held_by_one_run_at_a_time_across_threads(tmp_path: Path) -> None:
    lock = FileJobLock(tmp_path / "locks")
    seen: list[bool] = []

    def other_run() -> None:
        with FileJobLock(tmp_path / "locks").hold("watchdog") as held:
            seen.append(held)

    with lock.hold("watchdog") as first:
        t = threading.Thread(target=other_run)
        t.start()
        t.join()
        with lock.hold("other-job") as other:
            assert other is True  # locks are per job
    assert first is True and seen == [False]
    with lock.hold("watchdog") as again:
        assert again is True  # released when the run ended


def test_a_second_watchdog_run_skips_while_one_runs(runtime: Runtime) -> None:
    rt = runtime
    doc = rt.status.register(Upload("acme", "a.txt", "a" * 64, 1, "acme/a"))  # its message was lost
    time.sleep(0.01)
    lock = build_job_lock(rt.engine, rt.settings.data_dir)
    assert isinstance(lock, FileJobLock)
    with lock.hold("watchdog"):  # a run in progress (e.g. the cron while `recover` runs)
        skipped = Watchdog(rt, lock).run(RunWatchdog(stale_after_s=0))
    assert skipped["redriven"] == [] and "in progress" in skipped["skipped"]
    assert sum(q.qsize() for q in rt.broker.queues.values()) == 0
    assert Watchdog(rt, lock).run(RunWatchdog(stale_after_s=0))["redriven"] == [doc.document_id]


def test_a_data_folder_is_used_by_one_embedded_process(tmp_path: Path) -> None:
    first, second = DataFolderLock(tmp_path), DataFolderLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(DataFolderBusy, match=f"data folder {tmp_path} is in use by process {os.getpid()}"):
            second.acquire()
    finally:
        first.release()
    second.acquire()  # free again once the first let go
    second.release()
