"""documind.waiting.DocumentWaiter on the real StatusStore (SQLite): one aggregate query per
poll while nothing changes, details only for documents that became final, backoff."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from documind.db.engine import SessionFactory
from documind.db.models import DocumentStatus, StageName
from documind.status import StatusStore, Upload
from documind.waiting import DocumentWaiter


@pytest.fixture
def store(sessions: SessionFactory) -> StatusStore:
    return StatusStore(sessions)


def docs(store: StatusStore, n: int) -> list[tuple[str, int]]:
    out = []
    for i in range(n):
        sha = f"{i:064x}"
        reg = store.register(Upload("acme", f"{i}.txt", sha, 1, f"acme/{sha}"))
        out.append((reg.document_id, reg.generation))
    return out


class QueryCounter:
    def __init__(self, store: StatusStore) -> None:
        self.statements: list[str] = []
        self.engine = store.sessions.kw["bind"]  # type: ignore[attr-defined]
        event.listen(self.engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on)


def test_a_quiet_poll_is_one_aggregate_query(store: StatusStore) -> None:
    ids = [d for d, _ in docs(store, 30)]
    waiter = DocumentWaiter(store, ids)
    counter = QueryCounter(store)
    try:
        poll = waiter.poll()
    finally:
        counter.close()
    assert len(counter.statements) == 1
    assert "count(" in counter.statements[0].lower() and "stages" not in counter.statements[0].lower()
    assert poll.pending == 30 and poll.finished == [] and poll.counts == {"received": 30}


def test_only_finished_documents_are_fetched(store: StatusStore) -> None:
    made = docs(store, 5)
    ids = [d for d, _ in made]
    waiter = DocumentWaiter(store, ids)
    (a, ga), (b, gb) = made[0], made[1]
    store.begin_stage(a, ga, StageName.VALIDATE)
    store.complete(a, ga)
    store.begin_stage(b, gb, StageName.VALIDATE)
    store.fail(b, "corrupt file", generation=gb)
    poll = waiter.poll()
    assert {(f.document_id, f.status, f.error) for f in poll.finished} == {
        (a, DocumentStatus.COMPLETED, None), (b, DocumentStatus.FAILED, "corrupt file"),
    }
    assert poll.pending == 3 and waiter.pending == ids[2:]
    assert poll.counts == {"received": 3, "completed": 1, "failed": 1}
    assert waiter.poll().finished == []  # reported once


def test_an_unknown_id_counts_as_finished(store: StatusStore) -> None:
    (a, _), = docs(store, 1)
    waiter = DocumentWaiter(store, [a, "no-such-id"])
    poll = waiter.poll()
    assert [(f.document_id, f.status) for f in poll.finished] == [("no-such-id", DocumentStatus.DELETED)]
    assert waiter.pending == [a]


def test_backoff_grows_while_nothing_changes_and_resets_on_progress(store: StatusStore) -> None:
    made = docs(store, 2)
    waiter = DocumentWaiter(store, [d for d, _ in made], min_interval_s=0.1, max_interval_s=0.4, factor=2)
    intervals = []
    for _ in range(4):
        waiter.poll()
        intervals.append(waiter.interval_s)
    assert intervals == [0.2, 0.4, 0.4, 0.4]
    store.complete(*made[0])
    waiter.poll()
    assert waiter.interval_s == 0.1


def test_wait_until_final_and_timeout(store: StatusStore) -> None:
    made = docs(store, 2)
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s
        if len(slept) == 3:
            store.complete(*made[0])

    waiter = DocumentWaiter(store, [d for d, _ in made])
    assert waiter.wait(timeout_s=10, sleep=sleep, clock=lambda: now[0]) is False
    assert waiter.pending == [made[1][0]] and now[0] >= 10
    store.complete(*made[1])
    assert waiter.wait(sleep=sleep, clock=lambda: now[0]) is True and waiter.done
