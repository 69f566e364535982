"""``validate.review_chunks``: open the tasks of one message (idempotent: a redelivery
opens nothing new), then hand open tasks to validators with room."""

from __future__ import annotations

from dataclasses import dataclass

from documind.contracts import ReviewChunks
from documind.db.engine import write_transaction
from documind.logging import get_logger
from documind.runtime import Runtime
from documind.validation.assignment import Assignment
from documind.validation.tasks import open_tasks


@dataclass
class TaskOpener:
    runtime: Runtime

    def review(self, work: ReviewChunks) -> int:
        st = self.runtime.settings
        with write_transaction(self.runtime.sessions) as s:
            created = open_tasks(
                s, work, threshold=st.validation_threshold, required_answers=st.validation_required_answers
            )
        if created:
            assigned = Assignment(self.runtime.sessions, st.validation_assign_timeout_s).assign_open()
            get_logger("documind.validate").info(
                "validation tasks opened", document_id=work.document_id, tasks=len(created), assigned=assigned
            )
        return len(created)
