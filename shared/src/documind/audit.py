"""The audit trail: every state change of documents, chunks and validation tasks as one
append-only row (who, what, when, before, after, why), hash-chained so that a changed or
deleted row is detected (``verify``).

````record`` adds to the caller's transaction, so the change and its audit row commit or
roll back together. Appends are serialized by the chain's head row (``audit_head``, id 1):
at commit the transaction's entries are chained behind the head, which it first UPDATEs,
taking its row lock on Postgres until the commit ends (two writers can never both extend
the same head: the chain never forks), and SQLite's database write lock in embedded mode.
The cost: per transaction, one UPDATE ... RETURNING, one INSERT of its entries and one
UPDATE; audited transactions commit one after another at this point (bench/validation.py
measures it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from documind.db.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64
HEAD_ID = 1
PENDING = "documind.audit.pending"


def _canonical(value: Any) -> Any:
    """JSON-safe, stable form of a before/after value (datetimes and enums as strings)."""
    return json.loads(json.dumps(value, default=_default, sort_keys=True)) if value is not None else None


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return str(value)


def entry_hash(
    *, seq: int, created_at: datetime, actor: str, entity_type: str, entity_id: str, action: str,
    before: Any, after: Any, reason: str | None, prev_hash: str,
) -> str:
    body = json.dumps(
        [seq, created_at.isoformat(timespec="microseconds"), actor, entity_type, entity_id, action,
         before, after, reason, prev_hash],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    session: Session, *, actor: str, entity_type: str, entity_id: str, action: str,
    before: dict | None = None, after: dict | None = None, reason: str | None = None,
) -> None:
    """Add one entry to ``session``'s transaction. It is chained and written when the
    transaction commits (``write_pending``, a ``before_commit`` hook of every session
    factory: ``documind.db.engine``), and dropped with it on rollback."""
    session.info.setdefault(PENDING, []).append({
        "created_at": utcnow(), "actor": actor, "entity_type": entity_type, "entity_id": str(entity_id),
        "action": action, "before": _canonical(before), "after": _canonical(after), "reason": reason,
    })


def write_pending(session: Session) -> None:
    """Chain and insert the transaction's entries, last thing before its commit: the head's
    row lock is then held only for the commit itself, not for the whole transaction (every
    audited write in the system passes through this one row)."""
    entries = session.info.pop(PENDING, None)
    if not entries:
        return
    # UPDATE first: the row lock (Postgres) or write lock (SQLite) is taken before the head
    # is read, so no other writer can extend the same head until this transaction ends.
    # Core statements on the tables, not the ORM's bulk UPDATE/INSERT (session
    # synchronisation, per-statement compile state), which no audited transaction needs: it
    # holds none of these rows as objects. A minimal audited commit on Postgres: 3.4-4.1 ->
    # 2.4-2.8 CPU-ms; every stage transition of every document is one.
    head, log = AuditHead.__table__, AuditEntry.__table__
    last_seq, prev = session.execute(
        update(head).where(head.c.id == HEAD_ID).values(seq=head.c.seq + len(entries))
        .returning(head.c.seq, head.c.hash)
    ).one()
    seq = last_seq - len(entries)
    rows = []
    for entry in entries:
        seq += 1
        digest = entry_hash(seq=seq, prev_hash=prev, **entry)
        rows.append({**entry, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    session.execute(insert(log), rows)
    session.execute(update(head).where(head.c.id == HEAD_ID).values(hash=prev))


def discard_pending(session: Session, *_: object) -> None:
    session.info.pop(PENDING, None)


def history(session: Session, entity_ids: list[str], limit: int = 10_000) -> list[AuditEntry]:
    """Entries about any of ``entity_ids`` in order."""
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.entity_id.in_(entity_ids)).order_by(AuditEntry.seq).limit(limit)
    ))


@dataclass(frozen=True)
class Problem:
    seq: int
    problem: str


@dataclass(frozen=True)
class Verification:
    entries: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries,
                "problems": [{"seq": p.seq, "problem": p.problem} for p in self.problems]}


def verify(session: Session, batch: int = 5000) -> Verification:
    """Walk the chain from the first row: contiguous sequence numbers, each row's
    ``prev_hash`` the previous row's hash, each hash recomputed from the row's content, and
    the head matching the last row (so deleting the newest rows is detected too)."""
    problems: list[Problem] = []
    expected_seq, prev, count = 1, GENESIS, 0
    for row in _rows(session, batch):
        count += 1
        if row.seq != expected_seq:
            problems.append(Problem(row.seq, f"rows {expected_seq}..{row.seq - 1} are missing (deleted)"))
        if row.prev_hash != prev:
            problems.append(Problem(row.seq, "prev_hash does not match the previous row (a row was changed or removed)"))
        recomputed = entry_hash(
            seq=row.seq, created_at=row.created_at, actor=row.actor, entity_type=row.entity_type,
            entity_id=row.entity_id, action=row.action, before=row.before, after=row.after,
            reason=row.reason, prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            problems.append(Problem(row.seq, "content does not match its hash (the row was changed)"))
        expected_seq, prev = row.seq + 1, row.hash
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).one_or_none()
    if head is None:
        problems.append(Problem(0, "the chain head row is missing"))
    elif head.seq != expected_seq - 1 or head.hash != prev:
        problems.append(Problem(head.seq, f"the head says {head.seq} entries but the chain ends at {expected_seq - 1} "
                                          "(the newest rows were deleted or changed)"))
    return Verification(count, problems)


def _rows(session: Session, batch: int) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = list(session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ))
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq, "at": entry.created_at.isoformat(), "actor": entry.actor,
        "entity_type": entry.entity_type, "entity_id": entry.entity_id, "action": entry.action,
        "before": entry.before, "after": entry.after, "reason": entry.reason, "hash": entry.hash,
    }
