"""Priority lanes: which lane an ingest takes, that every document stage has a bulk twin on
its own queue at a lower priority, that messages route by lane, that workers consume both
lanes, and that a Dramatiq worker runs waiting interactive work before a bulk backlog."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import dramatiq
import pytest

from documind.bus import Bus
from documind.contracts import (
    LANE_PRIORITY,
    LANED_CONTRACTS,
    EmbedChunks,
    ExtractPages,
    FinishEnrichment,
    IndexChunks,
    Lane,
    ProcessDocument,
    Queues,
)
from documind.lanes import choose_lane
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import StatusStore, Upload
from documind.tasks import declare
from documind.worker_entry import SERVICE_QUEUES

DOC = "0f8fad5b-d9cb-469f-a165-70867728950e"


# ---- choosing the lane --------------------------------------------------------------------


def test_single_file_is_interactive(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("x")
    assert choose_lane([f], 1, threshold_files=10) is Lane.INTERACTIVE


def test_a_few_files_are_interactive(tmp_path: Path) -> None:
    assert choose_lane([tmp_path / "a", tmp_path / "b"], 2, threshold_files=10) is Lane.INTERACTIVE
    assert choose_lane([], 10, threshold_files=10) is Lane.INTERACTIVE


def test_more_files_than_the_threshold_are_bulk() -> None:
    assert choose_lane([], 11, threshold_files=10) is Lane.BULK


def test_a_folder_is_bulk_even_with_one_file(tmp_path: Path) -> None:
    (tmp_path / "only.txt").write_text("x")
    assert choose_lane([tmp_path], 1, threshold_files=10) is Lane.BULK


def test_bulk_flag_and_lane_override() -> None:
    assert choose_lane([], 1, threshold_files=10, bulk=True) is Lane.BULK
    assert choose_lane([], 500, threshold_files=10, lane=Lane.INTERACTIVE) is Lane.INTERACTIVE
    assert choose_lane([], 1, threshold_files=10, bulk=True, lane=Lane.INTERACTIVE) is Lane.INTERACTIVE


# ---- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", LANED_CONTRACTS, ids=lambda c: c.__name__)
def test_messages_route_by_lane(contract: type) -> None:
    extra = {
        ProcessDocument: {},
        FinishEnrichment: {},
        ExtractPages: {"first_page": 1, "last_page": 25, "total_pages": 60},
    }.get(contract, {"start": 0, "end": 4})
    interactive = Bus.message(contract(document_id=DOC, generation=1, **extra))
    bulk = Bus.message(contract(document_id=DOC, generation=1, lane=Lane.BULK, **extra))
    assert (interactive.queue_name, interactive.actor_name) == (contract.QUEUE, contract.ACTOR)
    assert (bulk.queue_name, bulk.actor_name) == (contract.QUEUE + "_bulk", contract.ACTOR + "_bulk")
    assert bulk.args[0]["lane"] == "bulk"


def test_a_message_from_before_lanes_is_interactive() -> None:
    work = ProcessDocument.parse({"v": 1, "document_id": DOC, "generation": 1})
    assert work.lane is Lane.INTERACTIVE


def test_every_bulk_queue_is_consumed_by_the_service_of_its_interactive_queue() -> None:
    for contract in LANED_CONTRACTS:
        owners = [svc for svc, queues in SERVICE_QUEUES.items() if contract.QUEUE in queues]
        assert owners and all(contract.QUEUE + "_bulk" in SERVICE_QUEUES[svc] for svc in owners)
    assert {Queues.INGEST_BULK, Queues.EMBED_BULK, Queues.SEARCH_BULK} <= set(Queues.ALL)


# ---- actors on a runtime ------------------------------------------------------------------


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path, worker_threads=1), configure_logs=False)
    yield rt
    rt.close()


def test_declare_adds_a_lower_priority_bulk_twin(runtime: Runtime) -> None:
    declare(runtime, EmbedChunks, lambda work: None)
    interactive = runtime.broker.get_actor(EmbedChunks.ACTOR)
    bulk = runtime.broker.get_actor(EmbedChunks.ACTOR + "_bulk")
    assert (interactive.queue_name, interactive.priority) == (Queues.EMBED, LANE_PRIORITY[Lane.INTERACTIVE])
    assert (bulk.queue_name, bulk.priority) == (Queues.EMBED_BULK, LANE_PRIORITY[Lane.BULK])
    assert bulk.priority > interactive.priority  # Dramatiq runs lower numbers first


def test_register_stores_the_lane_and_reprocess_changes_it(runtime: Runtime) -> None:
    status: StatusStore = runtime.status
    up = Upload("acme", "a.txt", "d" * 64, 1, "acme/d", Lane.BULK)
    reg = status.register(up)
    assert reg.lane is Lane.BULK and status.get(reg.document_id).lane is Lane.BULK  # type: ignore[union-attr]
    again = status.register(Upload("acme", "a.txt", "d" * 64, 1, "acme/d", Lane.INTERACTIVE), reprocess=True)
    assert again.lane is Lane.INTERACTIVE and status.get(reg.document_id).lane is Lane.INTERACTIVE  # type: ignore[union-attr]


def run_backlog_then_one(
    runtime: Runtime, last_lane: Lane, prefetch: int | None, backlog: int = 30
) -> tuple[list[str], int]:
    """One worker thread; a backlog of bulk messages, then one message on ``last_lane``;
    the order in which they ran, and how many had finished when the last one was sent."""
    order: list[str] = []
    lock = threading.Lock()

    def handler(work: IndexChunks) -> None:
        time.sleep(0.02)
        with lock:
            order.append("last" if work.start == backlog else f"bulk{work.start}")

    declare(runtime, IndexChunks, handler)
    worker = dramatiq.Worker(runtime.broker, worker_threads=1, worker_timeout=20)
    if prefetch is not None:
        worker.queue_prefetch = prefetch  # everything in the worker's memory: priority decides alone
    worker.start()
    try:
        for i in range(backlog):
            runtime.bus.send(IndexChunks(document_id=DOC, generation=1, start=i, end=i + 1, lane=Lane.BULK))
        time.sleep(0.1)  # the worker is busy on the backlog now
        with lock:
            finished_before = len(order)
        runtime.bus.send(IndexChunks(document_id=DOC, generation=1, start=backlog, end=backlog + 1, lane=last_lane))
        runtime.broker.join(Queues.SEARCH_BULK, timeout=30_000)
        runtime.broker.join(Queues.SEARCH, timeout=30_000)
        worker.join()
    finally:
        worker.stop()
    assert len(order) == backlog + 1
    return order, finished_before


@pytest.mark.parametrize("prefetch", [None, 100], ids=["default-prefetch", "all-prefetched"])
def test_waiting_interactive_work_runs_before_a_bulk_backlog(runtime: Runtime, prefetch: int | None) -> None:
    order, finished_before = run_backlog_then_one(runtime, Lane.INTERACTIVE, prefetch)
    assert 0 < finished_before < 25  # it really arrived behind a backlog
    # At most the message running when it arrived (and its neighbour, allowing for the
    # moment between reading the count and sending) ran before it.
    assert order.index("last") <= finished_before + 2, (finished_before, order)


def test_control_the_same_message_on_the_bulk_lane_waits_its_turn(runtime: Runtime) -> None:
    order, _ = run_backlog_then_one(runtime, Lane.BULK, prefetch=100)
    assert order.index("last") == len(order) - 1, order


def test_the_watchdog_redrives_on_the_documents_lane(runtime: Runtime) -> None:
    from documind.contracts import RunWatchdog
    from documind_maintenance.watchdog import Watchdog

    bulk = runtime.status.register(Upload("acme", "b.txt", "b" * 64, 1, "acme/b", Lane.BULK))
    interactive = runtime.status.register(Upload("acme", "i.txt", "a" * 64, 1, "acme/a"))
    time.sleep(0.01)
    from documind.locks import build_job_lock

    watchdog = Watchdog(runtime, build_job_lock(runtime.engine, runtime.settings.data_dir))
    outcome = watchdog.run(RunWatchdog(stale_after_s=0))
    assert sorted(outcome["redriven"]) == sorted([bulk.document_id, interactive.document_id])
    queued = {
        q: [m.args[0]["document_id"] for m in (dramatiq.Message.decode(raw) for raw in runtime.broker.queues[q].queue)]
        for q in (Queues.INGEST, Queues.INGEST_BULK)
    }
    assert queued == {Queues.INGEST: [interactive.document_id], Queues.INGEST_BULK: [bulk.document_id]}


def test_service_images_consume_both_lanes() -> None:
    """Each image's worker command (deploy/docker/Dockerfile, one target per service) lists the
    queues `documind worker` uses; the search image's query lane runs as the search-query
    container (docker-compose.yml), so search's two commands together consume all three."""
    import json as _json

    import yaml

    from tests.deploy.test_images import last

    repo = Path(__file__).resolve().parents[2]
    for svc, queues in SERVICE_QUEUES.items():
        cmd = _json.loads(last(svc, "CMD").args)
        consumed = cmd[cmd.index("--queues") + 1:]
        if svc == "search":
            query = yaml.safe_load((repo / "docker-compose.yml").read_text())["services"]["search-query"]["command"]
            consumed = consumed + query[query.index("--queues") + 1:]
        assert sorted(consumed) == sorted(queues), svc
