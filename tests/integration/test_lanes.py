"""Priority lanes on the distributed stack (real Redis, Postgres and one worker process per
service): an interactive document submitted behind a bulk import is done long before the
import is; ``status --watch --json`` follows it to the end; ``status --json`` and the
aggregate ``ingest --wait`` report the run."""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.harness import DOCUMIND, Stack, distributed_stack, teardown

pytestmark = pytest.mark.integration

BACKLOG = 40
WORDS = (
    "river harbour lantern orchard granite meadow copper signal archive ledger glacier compass "
    "turbine violet pepper marble canyon beacon thistle saddle quarry falcon walnut barley cobalt"
).split()
PHASES = {
    "received", "validating", "extracting", "chunking", "handed to embedding", "embedding",
    "indexing", "indexed", "completed", "failed", "cancelled", "deleted",
}


def write_text(path: Path, seed: int, paragraphs: int = 12) -> Path:
    rng = random.Random(seed)
    body = "\n\n".join(
        " ".join(rng.choice(WORDS) for _ in range(90)).capitalize() + f". Note {seed}-{p}."
        for p in range(paragraphs)
    )
    path.write_text(f"Report {seed}\n\n{body}\n")
    return path


@pytest.fixture(scope="module")
def lane_stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="documind-lanes-"))
    s, db = distributed_stack(root, redis_db=12)
    try:
        yield s
    finally:
        teardown(s, db)


def completed_bulk(stack: Stack, folder_ids: list[str]) -> int:
    ids = ",".join(f"'{i}'" for i in folder_ids)
    return stack.sql(f"SELECT count(*) FROM documents WHERE status = 'completed' AND id IN ({ids})")[0][0]


def test_interactive_document_overtakes_a_bulk_backlog(lane_stack: Stack, tmp_path: Path) -> None:
    stack = lane_stack
    folder = tmp_path / "import"
    folder.mkdir()
    for i in range(BACKLOG):
        write_text(folder / f"report-{i:03}.txt", seed=i)
    single = write_text(tmp_path / "urgent.txt", seed=10_000)

    # A folder is a bulk import; the command returns at once in distributed mode.
    bulk_docs = stack.cli("ingest", str(folder), "--json").json()
    assert len(bulk_docs) == BACKLOG and {d["lane"] for d in bulk_docs} == {"bulk"}
    bulk_ids = [d["id"] for d in bulk_docs]

    (urgent,) = stack.cli("ingest", str(single), "--json").json()
    assert urgent["lane"] == "interactive"
    done_at_submit = completed_bulk(stack, bulk_ids)
    assert BACKLOG - done_at_submit >= 15, f"the backlog drained before the test could judge ({done_at_submit} done)"

    # While the import runs: the listing and one bulk document's status carry the view fields.
    listing = stack.cli("status", "--json", "--limit", str(BACKLOG + 5)).json()
    assert len(listing) == BACKLOG + 1
    for item in listing:
        assert {"id", "status", "phase", "progress", "heartbeat_age_s", "final", "lane"} <= set(item)
        assert item["phase"] in PHASES
    running = next(d for d in reversed(listing) if not d["final"] and d["lane"] == "bulk")
    one = stack.status(running["id"])
    assert one["lane"] == "bulk" and one["phase"] in PHASES and isinstance(one["stages"], list)

    # Follow the interactive document live until it is final (one JSON line per change).
    watch = subprocess.run(
        [DOCUMIND, "status", urgent["id"], "--watch", "--json", "--interval", "0.2"],
        env=stack.env, cwd=stack.root, capture_output=True, text=True, timeout=600,
    )
    assert watch.returncode == 0, watch.stderr[-3000:] + stack.worker_logs()
    done_when_urgent_finished = completed_bulk(stack, bulk_ids)
    lines = [json.loads(line) for line in watch.stdout.splitlines()]
    assert lines[-1]["status"] == "completed" and lines[-1]["phase"] == "completed" and lines[-1]["final"]
    assert all(not line["final"] for line in lines[:-1])
    assert [line["phase"] for line in lines] == sorted(
        (line["phase"] for line in lines),
        key=["received", "validating", "extracting", "chunking", "handed to embedding", "embedding",
             "indexing", "indexed", "completed"].index,
    ), "phases went backwards"

    # The aggregate --wait on the same folder (all duplicates now) waits for the rest.
    rest = stack.ingest(folder)
    assert {d["status"] for d in rest} == {"completed"} and all(d["duplicate"] for d in rest)

    finished = dict(stack.sql(
        "SELECT id, completed_at FROM documents WHERE id IN (%s)" % ",".join(f"'{i}'" for i in bulk_ids + [urgent["id"]])
    ))
    # Order of completion: first in, first out would finish it last (none after it); on its
    # lane it passes most of what was still waiting when it arrived.
    after = sum(1 for i in bulk_ids if finished[i] > finished[urgent["id"]])
    waiting = BACKLOG - done_at_submit
    assert after >= waiting // 2, (done_at_submit, after)
    # (the count read just after --watch ended agrees, give or take what finished meanwhile)
    assert after >= BACKLOG - done_when_urgent_finished


def test_lane_override_and_bulk_flag(lane_stack: Stack, tmp_path: Path) -> None:
    one = write_text(tmp_path / "one.txt", seed=20_001, paragraphs=2)
    folder = tmp_path / "folder"
    folder.mkdir()
    write_text(folder / "two.txt", seed=20_002, paragraphs=2)
    (doc_one,) = lane_stack.ingest(one, extra=("--bulk",))
    (doc_two,) = lane_stack.ingest(folder, extra=("--lane", "interactive"))
    assert (doc_one["lane"], doc_one["status"]) == ("bulk", "completed")
    assert (doc_two["lane"], doc_two["status"]) == ("interactive", "completed")
    detail = lane_stack.status(doc_one["id"])
    assert detail["lane"] == "bulk" and detail["phase"] == "completed" and detail["final"] is True
    assert detail["progress"] is None and detail["heartbeat_age_s"] is None
    assert [s["label"] for s in detail["stages"]] == ["validating", "extracting", "chunking", "embedding", "indexing"]
    assert all(s["percent"] in (None, 100.0) for s in detail["stages"])
