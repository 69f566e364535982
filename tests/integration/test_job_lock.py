"""The watchdog's run lock on the real Postgres (distributed mode), and the embedded data
folder lock as the CLI reports it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from documind.locks import PostgresJobLock, build_job_lock
from tests.integration.harness import PG_ADMIN, embedded_stack

pytestmark = pytest.mark.integration


def test_a_postgres_job_lock_is_held_by_one_session_at_a_time() -> None:
    a, b = create_engine(PG_ADMIN), create_engine(PG_ADMIN)
    try:
        assert isinstance(build_job_lock(a, Path("/nonexistent")), PostgresJobLock)
        with PostgresJobLock(a).hold("watchdog-test") as first:
            with PostgresJobLock(b).hold("watchdog-test") as second:
                assert (first, second) == (True, False)
            with PostgresJobLock(b).hold("another-job-test") as other:
                assert other is True
        with PostgresJobLock(b).hold("watchdog-test") as again:
            assert again is True
    finally:
        a.dispose()
        b.dispose()


def test_a_postgres_job_lock_dies_with_its_holder() -> None:
    """A maintenance worker killed mid-run does not block the next runs."""
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import time\nfrom sqlalchemy import create_engine\nfrom documind.locks import PostgresJobLock\n"
            f"cm = PostgresJobLock(create_engine({PG_ADMIN!r})).hold('watchdog-kill-test')\n"
            "print(cm.__enter__(), flush=True)\ntime.sleep(600)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )
    engine = create_engine(PG_ADMIN)
    try:
        assert holder.stdout.readline().strip() == "True"
        with PostgresJobLock(engine).hold("watchdog-kill-test") as held:
            assert held is False
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 10
        while True:
            with PostgresJobLock(engine).hold("watchdog-kill-test") as held:
                if held or time.monotonic() > deadline:
                    break
            time.sleep(0.2)
        assert held is True
    finally:
        if holder.poll() is None:
            holder.kill()
        engine.dispose()


def test_a_second_embedded_process_on_a_data_folder_gets_a_clear_error() -> None:
    """A second embedded CLI would take the first one's in-memory work for lost and re-drive
    it; it is refused instead, naming the process that holds the folder."""
    stack = embedded_stack(Path(tempfile.mkdtemp(prefix="documind-folder-lock-")))
    data = stack.root / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import time\nfrom pathlib import Path\nfrom documind.locks import DataFolderLock\n"
            f"lock = DataFolderLock(Path({str(data)!r}))\nlock.acquire()\nprint('held', flush=True)\ntime.sleep(600)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        res = stack.cli("recover", "--json", check=False, timeout=300)
        assert res.code == 1, (res.stdout, res.stderr)
        assert f"data folder {data} is in use by process {holder.pid}" in res.stderr
        holder.kill()
        holder.wait()
        assert stack.cli("recover", "--json", timeout=300).json()["redriven"] == []
    finally:
        if holder.poll() is None:
            holder.kill()
        import shutil

        shutil.rmtree(stack.root, ignore_errors=True)
