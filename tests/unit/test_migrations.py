"""Alembic migrations on SQLite: up, down, up again, and the schema matches the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

from documind.db.migrate import alembic_config, downgrade, upgrade
from documind.db.models import Base

TABLES = {"documents", "stages", "chunks", "dead_letters", "query_log"}


def tables(url: str) -> set[str]:
    eng = create_engine(url)
    try:
        return set(inspect(eng).get_table_names())
    finally:
        eng.dispose()


def current_revision(url: str) -> str | None:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        eng.dispose()


def head(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()  # type: ignore[return-value]


def test_one_head(db_url: str) -> None:
    assert len(ScriptDirectory.from_config(alembic_config(db_url)).get_heads()) == 1


def test_upgrade_creates_the_tables(db_url: str) -> None:
    assert TABLES <= tables(db_url)
    assert current_revision(db_url) == head(db_url)


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    downgrade(db_url, "base")
    assert tables(db_url) & TABLES == set()
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert TABLES <= tables(db_url)
    assert current_revision(db_url) == head(db_url)


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    assert current_revision(db_url) == head(db_url)


def test_upgrade_creates_the_parent_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'deeper' / 'documind.db'}"
    upgrade(url)
    assert TABLES <= tables(url)


def test_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_models_cover_the_migrated_tables(db_url: str) -> None:
    assert set(Base.metadata.tables) == tables(db_url) - {"alembic_version"}


def test_schema_comparison_detects_a_difference(engine: Engine) -> None:
    """Guard for test_schema_matches_models: the comparison does see a drifted model."""
    from sqlalchemy import Column, Integer, MetaData

    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["documents"].append_column(Column("page_count", Integer, nullable=True))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), drifted)
    assert [d[0] for d in diff] == ["add_column"]


def test_check_current_accepts_a_migrated_database(db_url: str) -> None:
    from documind.db.migrate import check_current

    check_current(db_url)


def test_check_current_refuses_an_old_or_missing_schema(tmp_path: Path) -> None:
    import pytest

    from documind.db.migrate import SchemaOutOfDate, check_current

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(SchemaOutOfDate, match="documind migrate"):
        check_current(url)
    upgrade(url)
    downgrade(url, "base")
    with pytest.raises(SchemaOutOfDate, match="nothing"):
        check_current(url)
