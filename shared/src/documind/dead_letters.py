"""The dead-letter table as operators use it: list, show, re-drive (exactly once), purge.

A re-drive sends the work again as a new message (the old id's receipts are used up) and
records when, in the same transaction that locks the row, so two operators re-driving the
same letter at once send it once. Document work is re-driven against the document as it is
now: a document that failed starts a new generation from the beginning (the failed
generation's messages are fenced off), a deleted or finished one refuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import delete, func, select, update

from documind.contracts import (
    Contract,
    DocumentWork,
    ProcessDocument,
    known_contracts,
)
from documind.db.engine import SessionFactory, transaction
from documind.db.models import DeadLetter, Document, DocumentStatus, utcnow
from documind.errors import DocumindError, MalformedMessage
from documind.status import ACTIVE_STATUSES, StatusStore, audit_document, doc_state


class RedriveRefused(DocumindError):
    """The letter cannot be re-driven; the message says why and what to do instead."""


@dataclass(frozen=True)
class Letter:
    id: int
    message_id: str
    queue: str
    actor: str
    document_id: str | None
    reason: str
    payload: dict
    created_at: datetime
    redriven_at: datetime | None

    @classmethod
    def of(cls, row: DeadLetter) -> "Letter":
        return cls(
            row.id, row.message_id, row.queue, row.actor, row.document_id, row.reason,
            row.payload, row.created_at, row.redriven_at,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "message_id": self.message_id, "queue": self.queue, "actor": self.actor,
            "document_id": self.document_id, "reason": self.reason, "payload": self.payload,
            "created_at": _iso(self.created_at), "redriven_at": _iso(self.redriven_at),
        }


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() + "Z" if t else None


class DeadLetterStore:
    def __init__(self, sessions: SessionFactory, status: StatusStore, send: Callable[[Contract], None]) -> None:
        self.sessions = sessions
        self.status = status
        self.send = send  # the bus: a re-drive is an ordinary message

    def list(
        self, *, actor: str | None = None, document_id: str | None = None,
        include_redriven: bool = False, limit: int = 100,
    ) -> list[Letter]:
        query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if actor:
            query = query.where(DeadLetter.actor == actor)
        if document_id:
            query = query.where(DeadLetter.document_id == document_id)
        if not include_redriven:
            query = query.where(DeadLetter.redriven_at.is_(None))
        with self.sessions() as s:
            return [Letter.of(r) for r in s.scalars(query)]

    def get(self, letter_id: int) -> Letter | None:
        with self.sessions() as s:
            row = s.get(DeadLetter, letter_id)
            return Letter.of(row) if row is not None else None

    def redrive(self, letter_id: int) -> str:
        """Send the letter's work again; returns what was done, in words. Raises
        :class:`RedriveRefused` when nothing sensible can be sent."""
        tenant = None
        with transaction(self.sessions) as s:
            # Claim first, with a conditional write: it takes Postgres' row lock and SQLite's
            # write lock alike, so of two operators at once exactly one gets a row back. A
            # refusal below rolls the claim back.
            claimed = s.execute(
                update(DeadLetter)
                .where(DeadLetter.id == letter_id, DeadLetter.redriven_at.is_(None))
                .values(redriven_at=utcnow())
            ).rowcount
            row = s.get(DeadLetter, letter_id)
            if row is None:
                raise RedriveRefused(f"no dead letter {letter_id}")
            if not claimed:
                raise RedriveRefused(f"dead letter {letter_id} was already re-driven at {_iso(row.redriven_at)}")
            contract = known_contracts().get(row.actor)
            if contract is None:
                raise RedriveRefused(
                    f"dead letter {letter_id}: no DocuMind actor is named {row.actor!r}, so nothing can take it; purge it"
                )
            try:
                work = contract.parse(row.payload)
            except MalformedMessage as exc:
                raise RedriveRefused(f"dead letter {letter_id}: {exc}; it would fail again, purge it") from None
            if isinstance(work, DocumentWork):
                work, done, tenant = self._document_work(s, work)
            else:
                done = f"sent {row.actor} again"
            self.send(work)
        if tenant is not None:
            self.status.versions.bump(tenant)
        return done

    def _document_work(self, s: Any, work: DocumentWork) -> tuple[Contract, str, str | None]:
        doc = s.scalar(select(Document).where(Document.id == work.document_id).with_for_update())
        if doc is None or doc.status is DocumentStatus.DELETED:
            raise RedriveRefused(f"document {work.document_id} was deleted; nothing to re-drive")
        if doc.status is DocumentStatus.FAILED:
            # Its generation's other messages are fenced off: only a new one can finish it.
            before = doc_state(doc)
            StatusStore.new_generation(s, doc)
            audit_document(s, doc, "restart", before, reason="dead letter re-driven")
            return (
                ProcessDocument(document_id=doc.id, generation=doc.generation, lane=doc.lane, tenant=doc.tenant),
                f"document {doc.id} processed again from the start (generation {doc.generation})",
                doc.tenant,
            )
        if doc.status in ACTIVE_STATUSES and doc.generation == work.generation:
            return work, f"sent {work.actor} again for document {doc.id}", None
        if doc.status in ACTIVE_STATUSES:
            raise RedriveRefused(
                f"document {doc.id} is being processed again (generation {doc.generation}); this letter is obsolete"
            )
        raise RedriveRefused(f"document {doc.id} is {doc.status.value}; nothing to re-drive")

    def purge(
        self, *, older_than: timedelta | None = None, redriven_only: bool = False, dry_run: bool = False
    ) -> int:
        where = []
        if older_than is not None:
            where.append(DeadLetter.created_at < utcnow() - older_than)
        if redriven_only:
            where.append(DeadLetter.redriven_at.is_not(None))
        with transaction(self.sessions) as s:
            if dry_run:
                return int(s.scalar(select(func.count()).select_from(DeadLetter).where(*where)) or 0)
            return int(s.execute(delete(DeadLetter).where(*where)).rowcount or 0)
