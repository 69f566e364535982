"""Waiting for many documents to become final (``documind ingest --wait``) without reading
every document and its stages each time: one aggregate count per poll, details only for
documents that just finished, and a poll interval that backs off while nothing changes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from documind.db.models import FINAL_STATUSES, DocumentStatus
from documind.status import StatusStore

MIN_INTERVAL_S = 0.2
# A poll is one aggregate count, so 1 s costs little; a longer ceiling made every
# ``--wait`` return up to that long after its last document was final (half of it on average).
MAX_INTERVAL_S = 1.0
BACKOFF_FACTOR = 1.5


@dataclass(frozen=True)
class Finished:
    document_id: str
    status: DocumentStatus
    error: str | None


@dataclass(frozen=True)
class Poll:
    counts: dict[str, int]  # status value -> documents among those still waited for, plus finished so far
    finished: list[Finished]  # became final since the previous poll
    pending: int


@dataclass
class DocumentWaiter:
    status: StatusStore
    ids: Sequence[str]
    min_interval_s: float = MIN_INTERVAL_S
    max_interval_s: float = MAX_INTERVAL_S
    factor: float = BACKOFF_FACTOR
    pending: list[str] = field(init=False)
    final_counts: dict[str, int] = field(init=False, default_factory=dict)
    interval_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.pending = list(dict.fromkeys(self.ids))
        self.interval_s = self.min_interval_s

    @property
    def done(self) -> bool:
        return not self.pending

    def poll(self) -> Poll:
        """One round: count by status; only if some became final (or vanished), fetch who."""
        counts = self.status.counts_for(self.pending)
        final_now = sum(n for st, n in counts.items() if st in FINAL_STATUSES)
        missing = len(self.pending) - sum(counts.values())
        finished: list[Finished] = []
        if final_now:
            finished = [Finished(*row) for row in self.status.finished_among(self.pending)]
        if missing:
            finished += [Finished(i, DocumentStatus.DELETED, "no such document") for i in self.status.missing_among(self.pending)]
        if finished:
            gone = {f.document_id for f in finished}
            self.pending = [i for i in self.pending if i not in gone]
            for f in finished:
                self.final_counts[f.status.value] = self.final_counts.get(f.status.value, 0) + 1
            self.interval_s = self.min_interval_s  # things are moving: look again soon
        else:
            self.interval_s = min(self.max_interval_s, self.interval_s * self.factor)
        active = {st.value: n for st, n in counts.items() if st not in FINAL_STATUSES}
        return Poll({**active, **self.final_counts}, finished, len(self.pending))

    def wait(
        self,
        on_poll: Callable[[Poll], None] = lambda _p: None,
        timeout_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> bool:
        """Poll until every document is final; False if ``timeout_s`` (0: never) ran out."""
        deadline = clock() + timeout_s if timeout_s else None
        while True:
            on_poll(self.poll())
            if self.done:
                return True
            if deadline is not None and clock() >= deadline:
                return False
            sleep(self.interval_s if deadline is None else max(0.0, min(self.interval_s, deadline - clock())))
