"""The workers' schema check accepts every schema the code runs on (docs/design.md, "Schema
compatibility"): this release's head, known revisions from MIN_COMPATIBLE_REVISION on, and a
newer release's unknown revision, each only with every table and column of the models."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from documind.db import migrate
from documind.db.migrate import SchemaOutOfDate, alembic_config, check_current, downgrade, upgrade


def _execute(url: str, *statements: str) -> None:
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            for stmt in statements:
                conn.execute(text(stmt))
    finally:
        eng.dispose()


def _revisions(url: str) -> list[str]:
    """The chain from base to head."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_min_compatible_revision_is_in_the_chain(db_url: str) -> None:
    assert migrate.MIN_COMPATIBLE_REVISION in _revisions(db_url)


def test_head_is_accepted(db_url: str) -> None:
    check_current(db_url)


def test_a_revision_older_than_the_minimum_is_refused(db_url: str) -> None:
    chain = _revisions(db_url)
    older = chain[chain.index(migrate.MIN_COMPATIBLE_REVISION) - 1]
    downgrade(db_url, older)
    with pytest.raises(SchemaOutOfDate, match=f"at {older}, older than .*documind migrate"):
        check_current(db_url)


def test_a_newer_unknown_revision_that_only_added_is_accepted(db_url: str) -> None:
    # A newer release migrated: a new table and a new column, nothing this code uses removed.
    _execute(
        db_url,
        "CREATE TABLE future_things (id INTEGER PRIMARY KEY)",
        "ALTER TABLE documents ADD COLUMN future_column TEXT",
        "UPDATE alembic_version SET version_num = '9999_from_the_future'",
    )
    check_current(db_url)


def test_a_newer_unknown_revision_without_a_needed_column_is_refused(db_url: str) -> None:
    _execute(
        db_url,
        "ALTER TABLE documents DROP COLUMN purged_at",
        "UPDATE alembic_version SET version_num = '9999_from_the_future'",
    )
    with pytest.raises(SchemaOutOfDate, match=r"9999_from_the_future \(.*newer than this release.*lacks documents\.purged_at"):
        check_current(db_url)


def test_a_stale_minimum_is_caught_by_the_column_check(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A known revision at or after the minimum still needs the columns the models name: a
    minimum left too low cannot let a worker start on a schema it would fail on."""
    chain = _revisions(db_url)
    previous = chain[-2]
    monkeypatch.setattr(migrate, "MIN_COMPATIBLE_REVISION", previous)
    downgrade(db_url, previous)
    with pytest.raises(SchemaOutOfDate, match=f"at {previous} and lacks"):
        check_current(db_url)
    upgrade(db_url)
    check_current(db_url)


def test_a_known_revision_between_minimum_and_head_is_accepted(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The revision rule alone (the caller found no missing column): a release may declare
    that it runs on the schema before its newest, optional migration."""
    script = ScriptDirectory.from_config(alembic_config(db_url))
    chain = _revisions(db_url)
    monkeypatch.setattr(migrate, "MIN_COMPATIBLE_REVISION", chain[-3])
    for current in chain[-3:]:
        migrate.check_compatible(current, script, [])
    with pytest.raises(SchemaOutOfDate, match=f"at {chain[-4]}, older than {chain[-3]}"):
        migrate.check_compatible(chain[-4], script, [])
    with pytest.raises(SchemaOutOfDate, match="at nothing"):
        migrate.check_compatible(None, script, [])
