"""Run Alembic migrations programmatically (the CLI and tests call this; no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


# The oldest schema revision this release runs on. The workers accept the database at this
# revision, at any later one of this release's chain, and at a revision this release does not
# know (a newer release migrated the database: the rollout's old pods, or a rollback), as long
# as every table and column this code's models name is there. Raise it to the newest
# migration whenever that migration adds something the code now reads or writes (the column
# check would refuse the older schema anyway; this constant says so before any query runs).
# docs/design.md, "Schema compatibility".
MIN_COMPATIBLE_REVISION = "0015"


class SchemaOutOfDate(RuntimeError):
    """The database is not at a schema this code can run on."""


def _missing_columns(conn, metadata) -> list[str]:  # noqa: ANN001 (SQLAlchemy Connection, MetaData)
    """``table.column`` for every table or column of ``metadata`` that the database lacks."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    present = set(insp.get_table_names())
    missing: list[str] = []
    for name, table in sorted(metadata.tables.items()):
        if name not in present:
            missing.append(name)
            continue
        have = {c["name"] for c in insp.get_columns(name)}
        missing += [f"{name}.{c.name}" for c in table.columns if c.name not in have]
    return missing


def check_compatible(current: str | None, script, missing: list[str]) -> None:  # noqa: ANN001 (ScriptDirectory)
    """Raise SchemaOutOfDate unless a database at revision ``current`` (missing ``missing``
    of the models' tables and columns) is one this code runs on. Pure: the caller reads the
    database."""
    head = script.get_current_head()
    if current is None:
        raise SchemaOutOfDate(f"database schema is at nothing, this release needs {head}: run `documind migrate`")
    known = {rev.revision for rev in script.walk_revisions()}
    if current in known:
        # Revisions from MIN_COMPATIBLE_REVISION up to head (walk_revisions goes head -> base).
        accepted = {rev.revision for rev in script.iterate_revisions(head, MIN_COMPATIBLE_REVISION)}
        accepted.add(MIN_COMPATIBLE_REVISION)
        if current not in accepted:
            raise SchemaOutOfDate(
                f"database schema is at {current}, older than {MIN_COMPATIBLE_REVISION} (the oldest this "
                f"release runs on; its newest is {head}): run `documind migrate`"
            )
    if missing:
        newer = "" if current in known else f" ({current} is newer than this release, whose newest is {head})"
        raise SchemaOutOfDate(
            f"database schema is at {current}{newer} and lacks {', '.join(missing[:10])}"
            f"{' ...' if len(missing) > 10 else ''}, which this release needs: run `documind migrate` "
            f"with the release that matches the database"
        )


def check_current(url: str) -> None:
    """Fail fast when the schema is one this code cannot run on (distributed mode never
    migrates on its own: concurrent workers would race; ``documind migrate`` runs once per
    release, before the new workers start). Accepted: MIN_COMPATIBLE_REVISION up to this
    release's head, and a newer, unknown revision (a rolling upgrade's old pods, a rollback),
    in both cases only with every table and column of the models present."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, pool

    from documind.db.models import Base

    script = ScriptDirectory.from_config(alembic_config(url))
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            missing = _missing_columns(conn, Base.metadata) if current is not None else []
    finally:
        engine.dispose()
    check_compatible(current, script, missing)
