"""documind index check / repair / reindex / optimize against a real index, in both modes.

The index is damaged on purpose with qdrant-client itself while no DocuMind process holds the
local-mode folder: between CLI commands in embedded mode, with the search worker stopped in
distributed mode."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.integration.harness import DOCUMIND, SERVICES

pytestmark = pytest.mark.integration

MODEL = "all-MiniLM-L6-v2-onnx-int8"  # version 1 on the default encoder backend (the live model)
ALIAS = "documind_chunks"
DOCS = ("tide-pools.html", "coffee-brewing.txt", "qdrant-notes.md")
QUERY = "hermit crabs change shells as they grow"


@pytest.fixture(scope="module")
def docs(stack, tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp(f"index-{stack.mode}")
    for name in DOCS:
        shutil.copy(EXAMPLES / name, folder / name)
    out = {d["source_name"]: d for d in stack.ingest(folder)}
    assert all(d["status"] == "completed" for d in out.values()), out
    return out


@contextmanager
def qdrant_folder(stack) -> Iterator:
    """qdrant-client on the local folder while no DocuMind process has it open."""
    from qdrant_client import QdrantClient

    worker = None
    if stack.mode == "distributed":
        worker = stack.workers[SERVICES.index("search")]
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    client = QdrantClient(path=stack.env.get("DOCUMIND_QDRANT_PATH") or str(stack.root / "data" / "qdrant"))
    try:
        yield client
    finally:
        client.close()
        if worker is not None:
            stack.restart_worker("search")


def index_cli(stack, *args: str):  # noqa: ANN201
    return stack.cli("index", *args, "--json", check=False)


def test_check_finds_damage_and_repair_fixes_it(stack, docs):
    from qdrant_client import models

    from documind.vectors import point_id

    first = index_cli(stack, "check")
    assert first.code == 0, first.stderr
    assert first.json()["clean"] is True and first.json()["points_scanned"] >= len(DOCS)

    tide, coffee = docs["tide-pools.html"], docs["coffee-brewing.txt"]
    missing_id = point_id(tide["id"], 0, MODEL, generation=1)
    stale_id = point_id(coffee["id"], 0, MODEL, generation=1)
    past_end_id = point_id(coffee["id"], 999, MODEL, generation=1)
    foreign_doc = str(uuid.uuid4())
    foreign_id = point_id(foreign_doc, 0, MODEL, generation=1)
    with qdrant_folder(stack) as client:
        (stale,) = client.retrieve(ALIAS, [stale_id], with_payload=True, with_vectors=True)
        client.delete(ALIAS, points_selector=models.PointIdsList(points=[missing_id]), wait=True)
        vector = np.random.default_rng(7).normal(size=384).tolist()
        client.upsert(ALIAS, points=[
            models.PointStruct(id=stale_id, vector=stale.vector,
                               payload={**stale.payload, "generation": 0, "text": "an older text"}),
            models.PointStruct(id=past_end_id, vector=stale.vector,
                               payload={**stale.payload, "chunk_index": 999}),
            models.PointStruct(id=foreign_id, vector={"dense": vector},
                               payload={"tenant": "default", "document_id": foreign_doc, "chunk_index": 0,
                                        "generation": 1, "text": "not ours"}),
        ], wait=True)

    damaged = index_cli(stack, "check")
    assert damaged.code == 1, damaged.stderr
    report = damaged.json()
    assert report["clean"] is False
    assert report["missing"]["count"] == 1 and report["missing"]["sample"][0]["point_id"] == missing_id
    assert report["stale"]["count"] == 1 and report["stale"]["sample"][0]["point_id"] == stale_id
    assert report["stale"]["sample"][0]["reason"].startswith("generation 0 != ")
    extra = {e["point_id"]: e["reason"] for e in report["extra"]["sample"]}
    assert report["extra"]["count"] == 2 and set(extra) == {past_end_id, foreign_id}
    assert extra[foreign_id] == "no such document"
    # The human form says the same and also exits 1.
    human = stack.cli("index", "check", check=False)
    assert human.code == 1 and "missing  1" in human.stdout and "differs" in human.stdout

    # A tenant with no documents: nothing of the default tenant is looked at.
    assert index_cli(stack, "check", "--tenant", "nobody").json()["documents_checked"] == 0

    repaired = index_cli(stack, "repair")
    assert repaired.code == 0, repaired.stderr
    assert repaired.json()["repaired"] == {"upserted": 2, "deleted": 2}
    again = index_cli(stack, "check")
    assert again.code == 0 and again.json()["clean"] is True, again.stdout
    with qdrant_folder(stack) as client:
        (fixed,) = client.retrieve(ALIAS, [stale_id], with_payload=True)
        assert fixed.payload["generation"] == coffee["generation"] and fixed.payload["text"] != "an older text"
        assert client.retrieve(ALIAS, [foreign_id, past_end_id]) == []
    hits = stack.search(QUERY, 3)
    assert hits and hits[0]["document_id"] == tide["id"]


def test_first_reindex_migrates_a_plain_collection_to_an_alias(stack, docs):
    from qdrant_client import models

    # Turn the index back into what a deployment from before aliases (and before keyword
    # vectors) has: a real collection with one unnamed dense vector.
    with qdrant_folder(stack) as client:
        target = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}[ALIAS]
        info = client.get_collection(target)
        points, _ = client.scroll(target, limit=10_000, with_payload=True, with_vectors=True)
        client.delete_collection(target)
        client.create_collection(
            ALIAS, vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE),
            metadata=info.config.metadata,
        )
        client.upsert(ALIAS, points=[
            models.PointStruct(id=p.id, vector=p.vector["dense"], payload=p.payload) for p in points
        ])
        assert client.get_aliases().aliases == []

    # That layout is refused with the way out, and the re-index is that way out.
    old = index_cli(stack, "check")
    assert old.code == 1 and "re-index" in old.stderr, old.stderr
    result = index_cli(stack, "reindex")
    assert result.code == 0, result.stderr
    out = result.json()
    assert out["migrated_from_plain_collection"] is True
    assert (out["old_collection"], out["new_collection"]) == (ALIAS, f"{ALIAS}__v2")
    assert out["points"] == out["points_copied"] == len(points)
    assert index_cli(stack, "check").json()["clean"] is True
    assert stack.search(QUERY, 1)[0]["source_name"] == "tide-pools.html"
    with qdrant_folder(stack) as client:
        assert {a.alias_name: a.collection_name for a in client.get_aliases().aliases} == {ALIAS: f"{ALIAS}__v2"}
        assert sorted(c.name for c in client.get_collections().collections) == [f"{ALIAS}__v2"]


def add_synthetic_documents(stack, documents: int, chunks_each: int) -> None:
    """Completed documents with stored embeddings written straight into the database (the
    source of truth a re-index copies from): enough points that a re-index takes seconds."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from documind.db.models import Chunk, Document, DocumentStatus
    from documind.vectors import chunk_id

    rng = np.random.default_rng(11)
    engine = create_engine(stack.env["DOCUMIND_DATABASE_URL"])
    try:
        with Session(engine) as s:
            for d in range(documents):
                doc_id = str(uuid.uuid4())
                s.add(Document(
                    id=doc_id, tenant="synthetic", source_name=f"synthetic-{d}.txt", sha256=uuid.uuid4().hex * 2,
                    size_bytes=1, storage_key=f"synthetic/{doc_id}", status=DocumentStatus.COMPLETED,
                    generation=1, chunk_count=chunks_each,
                ))
                s.flush()  # chunks reference the document: no ORM relationship orders the inserts
                vectors = rng.normal(size=(chunks_each, 384)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                s.add_all(
                    Chunk(id=chunk_id(doc_id, i), document_id=doc_id, idx=i, generation=1, text=f"synthetic {d}.{i}",
                          token_count=3, embedding=vectors[i].tobytes(), embedding_model=MODEL)
                    for i in range(chunks_each)
                )
            s.commit()
    finally:
        engine.dispose()


def test_search_keeps_serving_while_a_reindex_runs(stack, docs, tmp_path):
    if stack.mode == "embedded":
        pytest.skip("embedded mode: one process owns the local folder, so no second process can query "
                    "while `documind index reindex` runs; the distributed run covers concurrency")
    add_synthetic_documents(stack, documents=100, chunks_each=150)
    reindex = subprocess.Popen(
        [DOCUMIND, "index", "reindex", "--json"], env=stack.env, cwd=stack.root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    during: list[int] = []
    failures: list[str] = []
    started = time.monotonic()
    # A document ingested during the copy: its points must reach the new collection too.
    late_file = tmp_path / "lighthouse.txt"
    late_file.write_text("The lighthouse keeper trimmed the lamp wick every evening before the fog rolled in.\n" * 3)
    late: list[dict] = []
    writer = threading.Thread(target=lambda: late.extend(stack.ingest(late_file)))
    time.sleep(1.0)
    writer.start()
    while reindex.poll() is None and time.monotonic() - started < 600:
        res = stack.cli("search", QUERY, "--top-k", "3", "--json", check=False)
        if res.code != 0 or not res.json()["hits"]:
            failures.append(f"rc={res.code} {res.stdout[-500:]} {res.stderr[-500:]}")
        elif reindex.poll() is None:
            during.append(len(res.json()["hits"]))
        time.sleep(1.0)  # a steady trickle of queries, not a loop of processes that takes the copy's CPU
    out, err = reindex.communicate(timeout=600)
    writer.join(timeout=600)
    assert reindex.returncode == 0, err[-3000:]
    assert late and late[0]["status"] == "completed", late
    late_hits = stack.search("who trimmed the lamp wick before the fog", 1)
    assert late_hits and late_hits[0]["document_id"] == late[0]["id"]
    assert not failures, failures
    assert len(during) >= 2, f"only {len(during)} queries overlapped the re-index ({out})"
    result = __import__("json").loads(out)
    assert result["points"] >= 100 * 150
    t0 = time.monotonic()
    check = index_cli(stack, "check").json()
    assert check["clean"] is True
    print(f"\nreindex: {result['points']} points in {result['seconds']} s, {len(during)} queries served meanwhile, "
          f"caught up {result['caught_up']}; check of {check['points_scanned']} points: {time.monotonic() - t0:.1f} s")
    assert stack.search(QUERY, 1)[0]["source_name"] == "tide-pools.html"


def test_optimize_reports_before_and_after(stack, docs):
    result = index_cli(stack, "optimize", "--quantization", "scalar")
    assert result.code == 0, result.stderr
    out = result.json()
    assert out["mode"] == "local" and out["applied"]["quantization"] == "scalar"
    for side in ("before", "after"):
        m = out[side]
        assert m["points"] > 0 and m["size_bytes"] > 0 and m["queries"] > 0
        assert m["latency_p50_ms"] > 0
        assert m["recall_at_10"] == 1.0  # local mode searches exactly: reported, not assumed
    assert out["before"]["points"] == out["after"]["points"]
    print(f"\noptimize ({stack.mode}): before {out['before']} after {out['after']}")
    assert any("ignores" in n for n in out["notes"])
    human = stack.cli("index", "optimize")
    assert "latency_p50_ms" in human.stdout and "quantization: unchanged" in human.stdout
    assert index_cli(stack, "check").json()["clean"] is True


def test_bad_input_is_a_usage_error(stack):
    res = stack.cli("index", "optimize", "--quantization", "product", check=False)
    assert res.code == 2 and "product" in res.stderr
