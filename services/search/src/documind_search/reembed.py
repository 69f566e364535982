"""Re-embedding chunk rows from their stored text with another model: the vectors go onto the
rows (``embedding``, ``embedding_model``), so the rows always say which model made their
vector, and repairs and later re-indexes of that model's collection copy them without
encoding again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value

from documind.db.models import Chunk, utcnow
from documind.embedding import Encoder


@dataclass
class Reembedder:
    sessions: Any
    encoders: Callable[[str], Encoder]  # model name -> its encoder

    def __call__(self, rows: list[Chunk], model: str) -> None:
        """Encode ``rows`` with ``model``, set the vectors on the row objects and store them."""
        if not rows:
            return
        vectors = self.encoders(model).encode([c.text or "" for c in rows])
        now = utcnow()
        for c, vec in zip(rows, vectors):
            # As committed values: the caller's (read) session must not flush them itself, or
            # it becomes a second writer (SQLite: "database is locked").
            set_committed_value(c, "embedding", vec.tobytes())
            set_committed_value(c, "embedding_model", model)
            set_committed_value(c, "embedded_at", now)
        table = Chunk.__table__
        stmt = (
            update(table)
            .where(table.c.id == bindparam("cid"))
            .values(embedding=bindparam("vec"), embedding_model=model, embedded_at=now)
        )
        with self.sessions.begin() as s:
            s.execute(stmt, [{"cid": c.id, "vec": c.embedding} for c in rows])
