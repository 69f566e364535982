"""Engine and session factory. SQLite gets WAL and a busy timeout so the embedded mode's
worker threads and the CLI can share one file; Postgres gets a pre-pinged pool."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker


def build_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


SessionFactory = sessionmaker[Session]


def build_session_factory(engine: Engine) -> SessionFactory:
    from documind import audit

    factory = sessionmaker(engine, expire_on_commit=False)
    # Audit entries added in a transaction are chained and written just before it commits,
    # and dropped when it rolls back (documind.audit).
    event.listen(factory, "before_commit", audit.write_pending)
    event.listen(factory, "after_rollback", audit.discard_pending)
    return factory


@contextmanager
def transaction(sessions: SessionFactory) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with sessions() as session, session.begin():
        yield session


@contextmanager
def write_transaction(sessions: SessionFactory) -> Iterator[Session]:
    """A unit of work that reads and then writes what another writer may take at the same
    moment (e.g. the next validation task). Postgres: as ``transaction`` (the caller locks
    rows, ``FOR UPDATE SKIP LOCKED``). SQLite has no row locks and ignores FOR UPDATE: its
    deferred transactions would let two threads read the same free row; ``BEGIN IMMEDIATE``
    takes the database write lock before the first read, so writers run one at a time
    (waiting up to the busy timeout) and each reads what the previous one committed."""
    with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("BEGIN IMMEDIATE"))
        yield session
