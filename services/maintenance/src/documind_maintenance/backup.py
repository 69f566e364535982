"""Backups that restore (``documind backup`` / ``documind restore``, the scheduled
``maintenance.backup``).

A backup is a folder ``documind-backup-<UTC time>`` holding:

- ``database.dump``: ``pg_dump --format=custom`` (Postgres), or ``database.sqlite`` made with
  SQLite's online backup API (embedded), each a consistent snapshot of its database;
- ``qdrant/``: local mode: ``meta.json`` (collections and aliases) and each collection's
  ``storage.sqlite`` copied with the same SQLite backup API, consistent per collection even
  while the search worker has it open; server mode: one snapshot per collection (Qdrant's
  snapshot API) and the aliases;
- ``files/``: the file store (uploads, renditions), temp files left out;
- ``manifest.json``: format, creation time, run mode, the database's schema revision, and the
  size and SHA-256 of every file above.

The database is dumped first and the index and files after it, so a document completed in
between has points (extra, which ``documind index check`` removes) but never a row without its
file: ingest stores a file before it registers the document. Stop ingestion for an exact copy.

Retention: after each backup only the newest ``DOCUMIND_BACKUP_KEEP`` backups in the
destination stay.

``restore`` refuses a backup whose manifest does not match its files (size, SHA-256) or whose
schema revision is not this release's, and an installation that is not empty (documents in
the database, files in the store, points or collections in the index); it restores the
database, the index and the files, in that order."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from documind.logging import get_logger
from documind.settings import Settings

FORMAT = 1
PREFIX = "documind-backup-"


class BackupError(Exception):
    """A backup could not be written or restored; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _sqlite_copy(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def _libpq_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def schema_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision(url: str) -> str:
    from alembic.script import ScriptDirectory

    from documind.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()  # type: ignore[return-value]


@dataclass
class Backups:
    settings: Settings

    @property
    def url(self) -> str:
        return self.settings.effective_database_url

    @property
    def postgres(self) -> bool:
        return self.url.startswith("postgresql")

    # ---- backup ----------------------------------------------------------------------------
    def backup(self, dest: Path | None = None) -> dict[str, Any]:
        dest = (dest or self.settings.effective_backup_dir).resolve()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        target = dest / f"{PREFIX}{stamp}"
        work = dest / f".{PREFIX}{stamp}.partial"
        work.mkdir(parents=True)
        try:
            revision = schema_revision(self.url)
            database = self._dump_database(work)
            qdrant = self._dump_qdrant(work / "qdrant")
            self._copy_files(work / "files")
            files = {
                p.relative_to(work).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                for p in sorted(work.rglob("*")) if p.is_file()
            }
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "mode": self.settings.mode.value,
                "schema_revision": revision,
                "database": database,
                "qdrant": qdrant,
                "files": files,
            }
            (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
            os.replace(work, target)  # a backup exists only once complete
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        removed = self.rotate(dest)
        total = sum(f["bytes"] for f in manifest["files"].values())
        get_logger("documind.backup").info("backup written", path=str(target), bytes=total, rotated=len(removed))
        return {"path": str(target), "schema_revision": revision, "files": len(files), "bytes": total,
                "rotated": [str(p) for p in removed]}

    def rotate(self, dest: Path) -> list[Path]:
        keep = self.settings.backup_keep
        backups = sorted(p for p in dest.glob(f"{PREFIX}*") if (p / "manifest.json").exists())
        old = backups[:-keep] if keep > 0 else []
        for p in old:
            shutil.rmtree(p, ignore_errors=True)
        return old

    def _dump_database(self, work: Path) -> dict:
        if self.postgres:
            if shutil.which("pg_dump") is None:
                raise BackupError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
            out = work / "database.dump"
            proc = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(out),
                 "--dbname", _libpq_url(self.url)],
                capture_output=True, text=True, timeout=self.settings.backup_timeout_s,
            )
            if proc.returncode != 0:
                raise BackupError(f"pg_dump failed: {self.settings.redact(proc.stderr.strip()[-500:])}")
            return {"kind": "pg_dump", "file": out.name}
        source = Path(self.url.removeprefix("sqlite:///"))
        _sqlite_copy(source, work / "database.sqlite")
        return {"kind": "sqlite", "file": "database.sqlite"}

    def _dump_qdrant(self, out: Path) -> dict:
        st = self.settings
        out.mkdir(parents=True)
        if st.qdrant_url:
            return self._qdrant_snapshots(out)
        path = st.effective_qdrant_path
        if (path / "meta.json").exists():
            shutil.copy2(path / "meta.json", out / "meta.json")
        collections = []
        for storage in sorted(path.glob("collection/*/storage.sqlite")):
            name = storage.parent.name
            _sqlite_copy(storage, out / "collection" / name / "storage.sqlite")
            collections.append(name)
        return {"kind": "local", "collections": collections}

    def _qdrant_snapshots(self, out: Path) -> dict:
        """Server mode: one snapshot per collection, downloaded, and the aliases."""
        import httpx

        from documind.vectors import build_qdrant_client

        st = self.settings
        client = build_qdrant_client(st)
        base = st.qdrant_url.get_secret_value().rstrip("/")  # type: ignore[union-attr]
        headers = {"api-key": st.qdrant_api_key.get_secret_value()} if st.qdrant_api_key else {}
        collections = []
        try:
            for c in client.get_collections().collections:
                snap = client.create_snapshot(collection_name=c.name, wait=True)
                target = out / f"{c.name}.snapshot"
                with httpx.stream("GET", f"{base}/collections/{c.name}/snapshots/{snap.name}", headers=headers,
                                  timeout=st.backup_timeout_s) as r:
                    r.raise_for_status()
                    with target.open("wb") as fh:
                        for block in r.iter_bytes(1 << 20):
                            fh.write(block)
                client.delete_snapshot(collection_name=c.name, snapshot_name=snap.name)
                collections.append(c.name)
            aliases = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
        finally:
            client.close()
        (out / "aliases.json").write_text(json.dumps(aliases))
        return {"kind": "snapshots", "collections": collections}

    def _copy_files(self, out: Path) -> None:
        root = self.settings.effective_storage_dir
        out.mkdir(parents=True)
        if not root.exists():
            return
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.name.startswith(".part-"):
                rel = p.relative_to(root)
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                try:
                    shutil.copy2(p, out / rel)
                except FileNotFoundError:
                    continue  # removed meanwhile (a deletion): its row says deleted too

    # ---- restore ---------------------------------------------------------------------------
    def verify(self, backup: Path) -> dict:
        """The manifest, if every file it lists is there with its size and SHA-256, no other
        file is, and its schema revision is this release's; else BackupError."""
        manifest_path = backup / "manifest.json"
        if not manifest_path.is_file():
            raise BackupError(f"{backup} is not a DocuMind backup (no manifest.json)")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"backup format {manifest.get('format')!r} is not supported (this release reads {FORMAT})")
        listed = manifest["files"]
        present = {p.relative_to(backup).as_posix() for p in backup.rglob("*") if p.is_file()} - {"manifest.json"}
        if present != set(listed):
            missing, extra = sorted(set(listed) - present), sorted(present - set(listed))
            raise BackupError(f"backup does not match its manifest: missing {missing[:5]}, unexpected {extra[:5]}")
        for rel, meta in listed.items():
            p = backup / rel
            if p.stat().st_size != meta["bytes"] or _sha256(p) != meta["sha256"]:
                raise BackupError(f"checksum mismatch: {rel} is not the file the backup wrote")
        head = head_revision(self.url)
        if manifest["schema_revision"] != head:
            raise BackupError(
                f"backup schema revision {manifest['schema_revision']} differs from this release's {head}: "
                "restore it with the release that wrote it, then upgrade"
            )
        want = "pg_dump" if self.postgres else "sqlite"
        if manifest["database"]["kind"] != want:
            raise BackupError(f"backup holds a {manifest['database']['kind']} database; this installation uses {want}")
        return manifest

    def restore(self, backup: Path) -> dict[str, Any]:
        backup = backup.resolve()
        manifest = self.verify(backup)
        self._refuse_unless_empty()
        if self.postgres:
            proc = subprocess.run(
                ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", _libpq_url(self.url),
                 str(backup / "database.dump")],
                capture_output=True, text=True, timeout=self.settings.backup_timeout_s,
            )
            if proc.returncode != 0:
                raise BackupError(f"pg_restore failed: {self.settings.redact(proc.stderr.strip()[-500:])}")
        else:
            target = Path(self.url.removeprefix("sqlite:///"))
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
                stale.unlink(missing_ok=True)
            _sqlite_copy(backup / "database.sqlite", target)
        self._restore_qdrant(backup / "qdrant", manifest["qdrant"])
        files = backup / "files"
        root = self.settings.effective_storage_dir
        count = 0
        for p in sorted(files.rglob("*")):
            if p.is_file():
                dest = root / p.relative_to(files)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, dest)
                count += 1
        get_logger("documind.backup").info("backup restored", path=str(backup), files=count)
        return {"restored": str(backup), "schema_revision": manifest["schema_revision"], "files": count,
                "collections": manifest["qdrant"].get("collections", [])}

    def _refuse_unless_empty(self) -> None:
        from sqlalchemy import create_engine, inspect, pool, text

        engine = create_engine(self.url, poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
                if "documents" in tables and conn.execute(text("SELECT count(*) FROM documents")).scalar():
                    raise BackupError("the database already holds documents: restore into an empty installation")
                if tables - {"alembic_version"}:
                    raise BackupError(
                        "the database already has DocuMind's tables: restore into an empty database "
                        "(do not run `documind migrate` first)"
                    )
        finally:
            engine.dispose()
        root = self.settings.effective_storage_dir
        if root.exists() and any(p.is_file() for p in root.rglob("*")):
            raise BackupError(f"the file store {root} is not empty")
        if not self.settings.qdrant_url:
            path = self.settings.effective_qdrant_path
            if any(path.glob("collection/*/storage.sqlite")):
                raise BackupError(f"the Qdrant folder {path} already holds collections")

    def _restore_qdrant(self, folder: Path, meta: dict) -> None:
        st = self.settings
        if meta["kind"] == "local":
            if st.qdrant_url:
                raise BackupError("backup holds a local-mode index; this installation uses a Qdrant server")
            path = st.effective_qdrant_path
            path.mkdir(parents=True, exist_ok=True)
            if (folder / "meta.json").exists():
                shutil.copy2(folder / "meta.json", path / "meta.json")
            for name in meta["collections"]:
                _sqlite_copy(folder / "collection" / name / "storage.sqlite", path / "collection" / name / "storage.sqlite")
            return
        if not st.qdrant_url:
            raise BackupError("backup holds Qdrant server snapshots; this installation uses local mode")
        import httpx

        from documind.vectors import build_qdrant_client

        base = st.qdrant_url.get_secret_value().rstrip("/")
        headers = {"api-key": st.qdrant_api_key.get_secret_value()} if st.qdrant_api_key else {}
        for name in meta["collections"]:
            with (folder / f"{name}.snapshot").open("rb") as fh:
                r = httpx.post(f"{base}/collections/{name}/snapshots/upload?priority=snapshot&wait=true",
                               headers=headers, files={"snapshot": (f"{name}.snapshot", fh)},
                               timeout=st.backup_timeout_s)
            r.raise_for_status()
        aliases = json.loads((folder / "aliases.json").read_text())
        if aliases:
            from qdrant_client import models

            client = build_qdrant_client(st)
            try:
                client.update_collection_aliases(change_aliases_operations=[
                    models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=c, alias_name=a))
                    for a, c in aliases.items()
                ])
            finally:
                client.close()
