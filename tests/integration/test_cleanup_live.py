"""Cleanup while documents are being ingested, on the distributed stack (real workers, Postgres,
Redis): it removes the orphans it should (a lost deletion's file and renditions, a file no
document names, an old temp file) and no file of a live document, including the re-upload of
a deleted document's bytes racing the cleanup."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.integration.harness import distributed_stack, teardown

pytestmark = pytest.mark.integration

TOPICS = [
    "glaciers carve U-shaped valleys as the ice grinds the bedrock beneath it",
    "sourdough starters ferment flour with wild yeast and lactic acid bacteria",
    "lighthouses warned ships with rotating lenses that focused a single flame",
    "honeybees dance in figure eights to tell the hive where the flowers are",
    "copper roofs turn green as a patina of carbonates forms over the decades",
    "chess engines search millions of positions each second with alpha-beta pruning",
    "monsoon winds reverse direction with the seasons and bring summer rain",
    "violin makers carve spruce tops and maple backs and tune the plates by ear",
]


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_cleanup_removes_orphans_and_never_a_live_file_while_ingesting() -> None:
    root = Path(tempfile.mkdtemp(prefix="documind-cleanup-"))
    stack, db = distributed_stack(root, extra_env={"DOCUMIND_ORPHAN_GRACE_S": "30", "DOCUMIND_TEMP_FILE_MAX_AGE_S": "60"})
    try:
        files_root = Path(stack.env["DOCUMIND_DATA_DIR"]) / "files"
        docs = root / "docs"
        docs.mkdir()
        for i, topic in enumerate(TOPICS):
            (docs / f"topic-{i}.txt").write_text((topic + ". ") * 20)
        first = stack.ingest(docs / "topic-0.txt", docs / "topic-1.txt")
        assert [d["status"] for d in first] == ["completed", "completed"]
        gone = first[0]
        stack.cli("delete", gone["id"])
        # A lost deletion's leftovers: the stored upload and a rendition, back in the store.
        gone_key = stack.sql(f"SELECT storage_key FROM documents WHERE id = '{gone['id']}'")[0][0]
        (files_root / gone_key).parent.mkdir(parents=True, exist_ok=True)
        (files_root / gone_key).write_bytes((docs / "topic-0.txt").read_bytes())
        rendition = files_root / "default" / "renditions" / gone["id"] / "1" / "text.txt"
        rendition.parent.mkdir(parents=True, exist_ok=True)
        rendition.write_text("left behind")
        stray = files_root / "default" / "ab" / ("ab" + "0" * 62)
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"no document names me")
        part = files_root / "default" / ".part-crashed"
        part.write_bytes(b"half a file")
        for p in (files_root / gone_key, rendition, stray, part):
            _age(p, 3600)
        # Live documents' files, aged past the grace period too: only the row decides for them.
        for p in files_root.rglob("*"):
            if p.is_file():
                _age(p, 3600)

        # Ingest the rest, and the deleted document's bytes again, while cleanup runs.
        results: dict[str, list] = {}

        def ingest() -> None:
            results["docs"] = stack.ingest(*(docs / f"topic-{i}.txt" for i in range(0, len(TOPICS))))

        t = threading.Thread(target=ingest)
        t.start()
        reports = []
        while t.is_alive() or not reports:
            reports.append(stack.cli("cleanup", "--json").json())
        t.join()
        reports.append(stack.cli("cleanup", "--json").json())

        ingested = results["docs"]
        assert all(d["status"] == "completed" for d in ingested), ingested
        live = stack.sql("SELECT id, storage_key, metadata FROM documents WHERE status <> 'deleted'")
        assert len(live) == len(TOPICS)
        for doc_id, key, metadata in live:
            assert (files_root / key).exists(), f"live document {doc_id} lost its file {key}"
            import json

            meta = metadata if isinstance(metadata, dict) else json.loads(metadata or "{}")
            for rkey in (meta.get("renditions") or {}).values():
                assert (files_root / rkey).exists(), f"live document {doc_id} lost its rendition {rkey}"
        removed = [k for r in reports for k in r["sample"]]
        assert not stray.exists() and not part.exists() and not rendition.exists()
        assert str(stray.relative_to(files_root)) in removed
        # The deleted document was ingested again: its bytes are live again and were kept
        # (or, if a cleanup took them first, stored anew by the re-upload).
        assert (files_root / gone_key).exists()
        assert stack.search(TOPICS[0], 3)[0]["document_id"] in {d["id"] for d in ingested}
    finally:
        teardown(stack, db)
