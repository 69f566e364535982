"""Backup and restore round trips in both modes: ingest real documents, back up, wipe
everything, restore into the empty installation, and the same searches return the same
results and the documents the same statuses. A tampered backup, one of another schema
revision, and a restore into an installation that is not empty are refused."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.integration.harness import (
    PG_ADMIN, REPO, Stack, distributed_stack, drop_redis_namespace, embedded_stack, teardown,
)

pytestmark = pytest.mark.integration

DOCS = REPO / "examples" / "docs"
QUERIES = ["how hot should the water be for coffee", "animals that live on rocky shores", "vector database"]


def _state(stack: Stack, ids: list[str]) -> tuple[list, list]:
    statuses = [(i, stack.status(i)["status"], stack.status(i)["chunk_count"]) for i in ids]
    results = [[(h["document_id"], h.get("chunk_id"), round(h["score"], 5)) for h in stack.search(q, 5)] for q in QUERIES]
    return statuses, results


def _refusals(stack: Stack, backup: Path, scratch: Path) -> None:
    # Into an installation that is not empty.
    res = stack.cli("restore", str(backup), check=False)
    assert res.code == 1 and "empty" in res.stderr, res.stderr
    # A tampered file.
    bad = scratch / "tampered"
    shutil.copytree(backup, bad)
    victim = next(p for p in sorted((bad / "files").rglob("*")) if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"!")
    res = stack.cli("restore", str(bad), check=False)
    assert res.code == 1 and "checksum mismatch" in res.stderr, res.stderr
    # Another schema revision.
    other = scratch / "other-schema"
    shutil.copytree(backup, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["schema_revision"] = "0001"
    (other / "manifest.json").write_text(json.dumps(manifest))
    res = stack.cli("restore", str(other), check=False)
    assert res.code == 1 and "schema revision 0001" in res.stderr, res.stderr


def test_embedded_round_trip() -> None:
    root = Path(tempfile.mkdtemp(prefix="documind-backup-emb-"))
    stack = embedded_stack(root)
    try:
        docs = stack.ingest(DOCS)
        ids = sorted(d["id"] for d in docs)
        assert all(d["status"] == "completed" for d in docs)
        before = _state(stack, ids)
        out = stack.cli("backup", "--dest", str(root / "backups"), "--json").json()
        backup = Path(out["path"])
        assert (backup / "database.sqlite").exists() and (backup / "manifest.json").exists()
        _refusals(stack, backup, root / "scratch")

        shutil.rmtree(root / "data")  # wipe everything
        restored = stack.cli("restore", str(backup), "--json").json()
        assert restored["files"] >= len(docs)
        assert _state(stack, ids) == before
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_distributed_round_trip() -> None:
    root = Path(tempfile.mkdtemp(prefix="documind-backup-dist-"))
    stack, db = distributed_stack(root)
    try:
        docs = stack.ingest(DOCS)
        ids = sorted(d["id"] for d in docs)
        assert all(d["status"] == "completed" for d in docs)
        before = _state(stack, ids)
        # While the workers run: pg_dump and the SQLite backup API copy consistently.
        out = stack.cli("backup", "--dest", str(root / "backups"), "--json").json()
        backup = Path(out["path"])
        assert (backup / "database.dump").exists()
        assert list((backup / "qdrant").glob("collection/*/storage.sqlite"))
        _refusals(stack, backup, root / "scratch")

        # Wipe everything: workers, database, Redis namespace, index folder, file store.
        stack.stop_workers()
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{db}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{db}"'))
        engine.dispose()
        drop_redis_namespace(stack.env["DOCUMIND_REDIS_URL"], db)
        shutil.rmtree(root / "data")
        shutil.rmtree(root / "qdrant")

        stack.cli("restore", str(backup))
        stack.start_workers()
        assert _state(stack, ids) == before
        # A second backup rotates nothing away with the default retention; with keep=1 it does.
        again = stack.cli("backup", "--dest", str(root / "backups"), "--json").json()
        assert again["rotated"] == []
        stack.env["DOCUMIND_BACKUP_KEEP"] = "1"
        last = stack.cli("backup", "--dest", str(root / "backups"), "--json").json()
        assert sorted(last["rotated"]) == sorted([str(backup), again["path"]])
    finally:
        teardown(stack, db)
