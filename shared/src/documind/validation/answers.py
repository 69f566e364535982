"""Answers and decisions. A validator approves, corrects (new text and/or labels) or
rejects the task they hold; once a task has its required answers it is decided:

- all answers agree: that is the outcome;
- two disagree: the task needs a third answer (from someone else), and the third decides
  (the majority of the three; with three different answers, the third's).

A decision updates the chunk (a correction replaces its text and clears its vector; a
rejection marks it ``rejected_at``), the task's ``final_confidence`` (the share of answers
that agree with the decision for approve/correct, 0 for reject), the validators'
agreement figures (tasks with more than one answer), and the document: when none of its
current generation's tasks is unanswered it is ``validated`` (``documents.validated_at``,
a flag beside the pipeline status: the document stays ``completed`` and searchable) with a
confidence recomputed from the decisions. After the commit the changed chunks are sent to
the embed and search services (``EmbedChunks``/``IndexChunks`` with ``revision``): the new
text is embedded and indexed, the old point and any cached result go. A crash between the
commit and the send is covered by the correction outbox: the deciding transaction sets
``chunks.revision_pending_at``, the search service clears it once the revision is indexed, and
the maintenance watchdog re-sends revisions left pending past a grace period
(``documind_maintenance.revisions``). The decision is also written back onto the chunk
(``documind.validation.writeback``: who confirmed which labels, the validated confidence);
labels a correction added to the document are pushed to its index payload
(``RefreshPayload``), and enough validated labels trigger a classifier retrain
(``documind.validation.training``).

Batch decisions (a lead's): every matching unanswered task in one transaction, all or
nothing, one audit entry per task. On Postgres each task is locked ``NOWAIT``: a task held
by another transaction at that moment fails the whole batch instead of waiting on it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from documind import audit
from documind.contracts import Contract, EmbedChunks, IndexChunks, RefreshPayload
from documind.db.engine import SessionFactory, write_transaction
from documind.db.models import (
    Chunk, Document, DocumentStatus, TaskStatus, ValidationAnswer, ValidationTask, Validator, Verdict, utcnow,
)
from documind.index_versions import IndexVersions
from documind.validation.assignment import Assignment
from documind.validation.chunks import task_chunk
from documind.validation.errors import ValidationRefused
from documind.validation import training, writeback
from documind.validation.views import task_view

Send = Callable[[Contract], object]
UNANSWERED = (TaskStatus.OPEN, TaskStatus.ASSIGNED)


@dataclass
class Decision:
    verdict: Verdict
    text: str | None
    labels: list | None
    agreement: float  # share of answers that agree with it


@dataclass
class _After:
    """What to send once the transaction committed."""

    messages: list[Contract] = field(default_factory=list)
    tenants: set[str] = field(default_factory=set)
    labelled: set[str] = field(default_factory=set)  # tenants whose validated labels grew


def _key(a: ValidationAnswer) -> tuple:
    return (a.verdict.value, a.text if a.verdict is Verdict.CORRECT else None)


def decide(answers: list[ValidationAnswer], required: int) -> Decision | None:
    """The decision, or None while more answers are needed (``answers`` oldest first)."""
    if len(answers) < required:
        return None
    keys = [_key(a) for a in answers]
    counts = Counter(keys)
    top, n = counts.most_common(1)[0]
    if n == len(answers):
        winner = top
    elif len(answers) < 3:
        return None  # two disagree: a third decides
    elif n * 2 > len(answers):
        winner = top
    else:
        winner = keys[-1]  # no majority among three: the third validator's answer stands
    chosen = [a for a in answers if _key(a) == winner][-1]
    return Decision(chosen.verdict, chosen.text, chosen.labels, counts[winner] / len(answers))


class Answers:
    def __init__(
        self, sessions: SessionFactory, assignment: Assignment, send: Send, versions: IndexVersions,
        min_validated: int = 0,
    ) -> None:
        self.sessions = sessions
        self.assignment = assignment
        self.send = send
        self.versions = versions
        self.min_validated = min_validated  # DOCUMIND_CLASSIFIER_MIN_VALIDATED; 0: no automatic retrain

    # ---- one validator's answer -------------------------------------------------------
    def answer(
        self, task_id: int, name: str, verdict: Verdict, *, text: str | None = None, labels: list | None = None,
        reason: str | None = None,
    ) -> dict:
        if verdict is Verdict.CORRECT and not (text and text.strip()) and labels is None:
            raise ValidationRefused("a correction needs new text (--text/--text-file) and/or --labels")
        after = _After()
        with write_transaction(self.sessions) as s:
            v = self.assignment.validator(s, name)
            doc_id = s.scalar(select(ValidationTask.document_id).where(ValidationTask.id == task_id))
            if doc_id is None:
                raise ValidationRefused(f"no validation task {task_id}")
            _lock_documents(s, [doc_id])
            task = s.scalar(select(ValidationTask).where(ValidationTask.id == task_id).with_for_update())
            if task.status != TaskStatus.ASSIGNED or task.assigned_to != v.id:
                state = task.status.value
                raise ValidationRefused(f"task {task_id} is not held by {name} (it is {state}); take it with validate next")
            chunk = task_chunk(s, task, lock=True)
            if chunk is None:
                raise ValidationRefused(f"task {task_id}: its chunk is gone (document re-processed or deleted)")
            s.add(ValidationAnswer(
                task_id=task.id, validator_id=v.id, verdict=verdict,
                text=text if verdict is Verdict.CORRECT else None, labels=labels, original_text=chunk.text,
            ))
            s.flush()
            audit.record(s, actor=name, entity_type="task", entity_id=str(task.id), action=f"answer:{verdict.value}",
                         before={"status": "assigned"}, after={"verdict": verdict.value, "text": text, "labels": labels},
                         reason=reason)
            answers = list(s.scalars(
                select(ValidationAnswer).where(ValidationAnswer.task_id == task.id).order_by(ValidationAnswer.id)
            ))
            decision = decide(answers, task.required_answers)
            if decision is None:
                if len(answers) >= task.required_answers:
                    task.required_answers = len(answers) + 1
                task.status, task.assigned_to, task.assigned_at = TaskStatus.OPEN, None, None
                audit.record(s, actor=name, entity_type="task", entity_id=str(task.id), action="needs_answer",
                             after={"answers": len(answers), "required": task.required_answers, "status": "open"},
                             reason="validators disagree: a third decides" if len(answers) >= 2 else "more answers required")
            else:
                self._apply(s, task, chunk, decision, actor=name, after=after, reason=reason)
                if len(answers) > 1:
                    self._score(s, answers, decision)
            view = task_view(task, chunk.text, name)
        self._send(after)
        return view

    @staticmethod
    def _score(s: Session, answers: list[ValidationAnswer], decision: Decision) -> None:
        winner = (decision.verdict.value, decision.text if decision.verdict is Verdict.CORRECT else None)
        # Locked in id order, as assign_open locks them: two decisions never deadlock.
        for a in sorted(answers, key=lambda x: x.validator_id):
            v = s.get(Validator, a.validator_id, with_for_update=True)
            v.compared += 1
            v.agreed += int(_key(a) == winner)

    # ---- the decision's effects -------------------------------------------------------
    def _apply(
        self, s: Session, task: ValidationTask, chunk: Chunk, decision: Decision, *, actor: str, after: _After,
        reason: str | None,
    ) -> None:
        doc = s.scalar(select(Document).where(Document.id == task.document_id).with_for_update())
        if doc is None or doc.generation != task.generation or doc.status is not DocumentStatus.COMPLETED:
            # Re-processed, deleted or failed since the task opened: nothing to apply it to.
            raise ValidationRefused(f"task {task.id}: document {task.document_id} changed since; the task is moot")
        task.status = TaskStatus.ANSWERED
        task.outcome = decision.verdict
        task.answered_at = utcnow()
        task.final_confidence = 0.0 if decision.verdict is Verdict.REJECT else round(decision.agreement, 4)
        audit.record(s, actor=actor, entity_type="task", entity_id=str(task.id), action=f"decide:{decision.verdict.value}",
                     before={"status": "assigned", "confidence": task.confidence},
                     after={"status": "answered", "outcome": decision.verdict.value,
                            "final_confidence": task.final_confidence}, reason=reason)
        text_changed = bool(decision.verdict is Verdict.CORRECT and decision.text and decision.text != chunk.text)
        wb = writeback.confirm(s, doc, chunk, task, decision.verdict, decision.labels,
                               text_changed=text_changed, actor=actor)
        if wb.labels_changed:
            after.messages.append(RefreshPayload(document_id=doc.id, generation=doc.generation, tenant=doc.tenant))
        if wb.labelled:
            after.labelled.add(doc.tenant)
        if text_changed:
            before_text = chunk.text
            chunk.text = decision.text
            # A rough count (words): the embedding model truncates at its window anyway.
            chunk.token_count = max(1, len(decision.text.split()))
            chunk.embedding = None
            chunk.embedding_model = None
            chunk.embedded_at = None
            chunk.indexed_at = None
            audit.record(s, actor=actor, entity_type="chunk", entity_id=chunk.id, action="correct",
                         before={"text": before_text}, after={"text": chunk.text}, reason=reason)
            chunk.revision_pending_at = utcnow()  # the outbox: cleared once the revision is indexed
            after.messages += self._revision(doc, chunk, embed=True)
        elif decision.verdict is Verdict.REJECT:
            chunk.rejected_at = utcnow()
            chunk.indexed_at = None
            chunk.revision_pending_at = chunk.rejected_at
            audit.record(s, actor=actor, entity_type="chunk", entity_id=chunk.id, action="reject",
                         before={"in_search": True}, after={"in_search": False}, reason=reason)
            after.messages += self._revision(doc, chunk, embed=False)
        after.tenants.add(doc.tenant)
        before_conf = doc.validated_confidence
        doc.validated_confidence = writeback.document_confidence(s, doc)
        if doc.validated_confidence != before_conf:
            audit.record(s, actor=actor, entity_type="document", entity_id=doc.id, action="confidence",
                         before={"validated_confidence": before_conf},
                         after={"validated_confidence": doc.validated_confidence}, reason=f"task {task.id} decided")
        self._maybe_validated(s, doc, actor)

    @staticmethod
    def _revision(doc: Document, chunk: Chunk, *, embed: bool) -> list[Contract]:
        """The search service drops the chunk's old point now (a corrected chunk has no
        vector until it is re-embedded; a rejected one none for good); a correction is
        also re-embedded, whose IndexChunks then indexes the new text."""
        common = dict(document_id=doc.id, generation=doc.generation, start=chunk.idx, end=chunk.idx + 1,
                      lane=doc.lane, tenant=doc.tenant, revision=True)
        out: list[Contract] = [IndexChunks(**common)]
        if embed:
            out.append(EmbedChunks(**common))
        return out

    @staticmethod
    def _maybe_validated(s: Session, doc: Document, actor: str) -> None:
        s.flush()
        pending = s.scalar(select(func.count()).where(
            ValidationTask.document_id == doc.id, ValidationTask.generation == doc.generation,
            ValidationTask.status.in_(UNANSWERED),
        ))
        if pending:
            return
        tasks = list(s.scalars(select(ValidationTask).where(
            ValidationTask.document_id == doc.id, ValidationTask.generation == doc.generation,
            ValidationTask.status == TaskStatus.ANSWERED,
        )))
        if not tasks:
            return
        doc.validated_at = utcnow()
        audit.record(s, actor=actor, entity_type="document", entity_id=doc.id, action="validated",
                     after={"validated_confidence": doc.validated_confidence, "tasks": len(tasks)})

    # ---- batches ----------------------------------------------------------------------
    def batch(
        self, verdict: Verdict, *, by: str, document_id: str | None = None, below: float | None = None,
        tenant: str | None = None, reason: str | None = None,
    ) -> dict:
        if verdict is Verdict.CORRECT:
            raise ValidationRefused("a batch approves or rejects; corrections are one by one")
        if document_id is None and below is None:
            raise ValidationRefused("a batch needs --document or --below")
        after = _After()
        with write_transaction(self.sessions) as s:
            q = select(ValidationTask.id).where(ValidationTask.status.in_(UNANSWERED))
            if document_id is not None:
                q = q.where(ValidationTask.document_id == document_id)
            if below is not None:
                q = q.where(ValidationTask.confidence < below)
            if tenant is not None:
                q = q.where(ValidationTask.tenant == tenant)
            ids = list(s.scalars(q.order_by(ValidationTask.id)))
            _lock_documents(s, list(s.scalars(
                select(ValidationTask.document_id).where(ValidationTask.id.in_(ids)).distinct()
            )) if ids else [])
            decided = []
            for task_id in ids:
                # One task at a time, NOWAIT: a task someone else has locked right now fails
                # the batch (rolled back whole) rather than deciding over their answer.
                task = s.scalar(select(ValidationTask).where(ValidationTask.id == task_id).with_for_update(nowait=True))
                if task is None or task.status not in UNANSWERED:
                    raise ValidationRefused(f"task {task_id} changed while the batch ran; nothing was decided")
                chunk = task_chunk(s, task, lock=True)
                if chunk is None:
                    raise ValidationRefused(f"task {task_id}: its chunk is gone; nothing was decided")
                self._apply(s, task, chunk, Decision(verdict, None, None, 1.0), actor=by, after=after,
                            reason=reason or f"batch {verdict.value}")
                decided.append(task_id)
        self._send(after)
        return {"verdict": verdict.value, "decided": len(decided), "task_ids": decided}

    def _send(self, after: _After) -> None:
        for message in after.messages:
            self.send(message)
        for tenant in after.tenants:
            self.versions.bump(tenant)  # validated figures and texts changed: cached answers are void
        for tenant in sorted(after.labelled):
            # After the commit, counted afresh: a lost trigger is sent by the next decision.
            training.trigger(self.sessions, self.send, tenant, self.min_validated)


def _lock_documents(s: Session, document_ids: list[str]) -> None:
    """Documents first, in id order, then tasks and chunks: the order the pipeline's own
    transactions take (a delete locks the document, then deletes its chunks and supersedes
    its tasks), so a decision and a delete wait for each other instead of deadlocking."""
    if document_ids:
        s.execute(select(Document.id).where(Document.id.in_(sorted(document_ids)))
                  .order_by(Document.id).with_for_update())
