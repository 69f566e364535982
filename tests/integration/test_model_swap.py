"""`model activate` / `model rollback`: every chunk re-embedded from its stored text into a new
collection while search keeps answering, then search answers with the new model (and after
the rollback with the old one again), in both modes.

The second model is made deliberately different: the packaged model saved with CLS pooling
instead of mean pooling (same weights, clearly different vectors), registered as a candidate
version. The test process holds its own runtime: in embedded mode with the in-process
workers (one process owns the data folder), in distributed mode as a client of the real
worker processes. Searches run in a loop during the swap; none may fail or come back empty;
a document ingested during the swap must end up in the new collection with the new model."""

from __future__ import annotations

import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.integration.harness import Stack
from tests.integration.test_index_maintenance import ALIAS, DOCS, QUERY, add_synthetic_documents

pytestmark = pytest.mark.integration

PACKAGED = "all-MiniLM-L6-v2"
BASE = "all-MiniLM-L6-v2-onnx-int8"  # version 1 on the default encoder backend


@pytest.fixture(scope="module")
def docs(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp(f"swap-{stack.mode}")
    for name in DOCS:
        shutil.copy(EXAMPLES / name, folder / name)
    out = {d["source_name"]: d for d in stack.ingest(folder)}
    assert all(d["status"] == "completed" for d in out.values()), out
    # Enough chunks that re-embedding takes a while: searches must overlap the swap.
    add_synthetic_documents(stack, documents=40, chunks_each=25)
    return out


@contextmanager
def client_runtime(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """This process's runtime on the stack: with the in-process workers in embedded mode."""
    from documind.runtime import build_runtime
    from documind.settings import load_settings

    for key, value in stack.env.items():
        if key.startswith("DOCUMIND_"):
            monkeypatch.setenv(key, value)
    rt = build_runtime(load_settings(), configure_logs=False)
    workers = None
    try:
        if stack.mode == "embedded":
            from documind.embedded import EmbeddedWorkers

            workers = EmbeddedWorkers(rt)
            workers.start()
        yield rt
    finally:
        if workers is not None:
            workers.stop()
        rt.close()


def cls_pooled_model(storage_dir: Path, key: str) -> Path:
    from sentence_transformers import SentenceTransformer

    from documind.embedding import model_path

    m = SentenceTransformer(str(model_path(PACKAGED)), device="cpu")
    m[1].pooling_mode = "cls"  # sentence-transformers' Pooling module: "mean" in the packaged model
    out = storage_dir / key
    m.save(str(out))
    return out


def search(rt: Any, text: str, tenant: str, top_k: int = 3) -> dict:  # dense: the model's own ranking
    from documind.contracts import SearchQuery

    return rt.bus.call(SearchQuery(query=text, tenant=tenant, top_k=top_k, mode="dense"), timeout_s=120)


def live_points(stack: Stack, rt: Any) -> tuple[str, str, list]:
    """(live collection, its model, its points with vectors) read from Qdrant itself."""
    from qdrant_client import QdrantClient

    def read(client: QdrantClient) -> tuple[str, str, list]:
        target = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}[ALIAS]
        model = client.get_collection(target).config.metadata["model"]
        points, _ = client.scroll(target, limit=100_000, with_payload=True, with_vectors=True)
        return target, model, points

    if stack.mode == "embedded":
        from documind_search.worker import vector_index

        idx = vector_index(rt)
        with idx.lock:
            return read(idx.client)
    with stack.paused("search"):
        client = QdrantClient(path=stack.env["DOCUMIND_QDRANT_PATH"])
        try:
            return read(client)
        finally:
            client.close()


def assert_vectors_are_of(points: list, encoder: Any, sample: int = 60) -> None:
    """Each point's dense vector is ``encoder``'s vector of the point's own text."""
    chosen = points[:sample]
    expected = encoder.encode([p.payload["text"] for p in chosen])
    got = np.array([p.vector["dense"] for p in chosen], dtype=np.float32)
    cos = np.sum(expected * got, axis=1)
    assert float(cos.min()) > 0.999, f"vectors not of {encoder.model_name}: min cosine {cos.min():.4f}"


def test_search_answers_throughout_a_model_swap_and_after_rollback(
    stack: Stack, docs: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from documind.contracts import ActivateModel, ProcessDocument
    from documind.db.models import ModelStatus
    from documind.embedding import Encoder, packaged_encoder
    from documind.model_registry import build_registry
    from documind.status import Upload
    from documind.storage import content_key, sha256_of

    with client_runtime(stack, monkeypatch) as rt:
        tenant = rt.settings.default_tenant
        registry = build_registry(rt)
        before = search(rt, QUERY, tenant)
        assert before["model"] == BASE and before["hits"][0]["source_name"] == "tide-pools.html"

        parent = registry.torch_source(registry.active())  # the package's torch files, as training uses
        assert (parent.version, parent.backend, parent.name) == (1, "torch", PACKAGED)
        version = registry.create(parent=parent, pairs_path=None, params={"made_by": "test: CLS pooling"})
        cls_pooled_model(rt.settings.effective_storage_dir, f"models/v{version}")
        registry.update(version, status=ModelStatus.CANDIDATE, path=f"models/v{version}")
        new_name = registry.get(version).name
        new_encoder = Encoder(new_name, path=registry.get(version).path, dimension=384)

        outcome: dict = {}
        swap = threading.Thread(target=lambda: outcome.update(rt.bus.call(ActivateModel(version=version), timeout_s=900)))
        failures: list[str] = []
        during: list[str] = []
        # Text of its own: the stack is shared by the session, and the same bytes uploaded by
        # another module (test_index_maintenance uses a lighthouse note) would be that document.
        late_file = tmp_path / "ferry-log.txt"
        late_file.write_text("The ferry captain wrote the tide tables into the log every dawn before the harbour opened.\n" * 3)
        started = time.monotonic()
        swap.start()
        late_id = None
        while swap.is_alive() and time.monotonic() - started < 900:
            try:
                res = search(rt, QUERY, tenant)
                if not res["hits"] or res["hits"][0]["source_name"] != "tide-pools.html":
                    failures.append(f"wrong answer during the swap: {res['hits'][:1]}")
                during.append(res["model"])
            except Exception as exc:  # noqa: BLE001 - every failure is recorded, none allowed
                failures.append(f"{type(exc).__name__}: {exc}")
            if late_id is None:
                # A document ingested while the swap runs.
                digest = sha256_of(late_file)
                rt.storage.put_file(content_key(tenant, digest), late_file)
                reg = rt.status.register(Upload(tenant, late_file.name, digest, late_file.stat().st_size,
                                                content_key(tenant, digest)))
                rt.bus.send(ProcessDocument(document_id=reg.document_id, generation=reg.generation, tenant=tenant))
                late_id = reg.document_id
            time.sleep(0.5)  # a steady trickle of queries, not a loop that takes the swap's CPU
        swap.join(timeout=60)
        assert outcome, "the activation did not finish"
        assert not failures, failures[:5]
        assert len(during) >= 2, f"only {len(during)} searches overlapped the swap ({outcome})"
        assert outcome["new_model"] == new_name and outcome["old_model"] == BASE and outcome["previous_version"] == 1
        assert outcome["points_reembedded"] >= 40 * 25
        print(f"\nmodel swap ({stack.mode}): {outcome['points']} points re-embedded in {outcome['seconds']} s, "
              f"{len(during)} searches answered meanwhile ({during.count(BASE)} by the old model), "
              f"caught up {outcome['caught_up']}")

        # The late document completes and is found; afterwards everything answers with the new model.
        deadline = time.monotonic() + 300
        while rt.status.get(late_id).status.value not in ("completed", "failed") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert rt.status.get(late_id).status.value == "completed"
        after = search(rt, QUERY, tenant)
        assert after["model"] == new_name and after["hits"][0]["source_name"] == "tide-pools.html"
        q = new_encoder.encode([QUERY])[0]
        top = new_encoder.encode([after["hits"][0]["text"]])[0]
        assert abs(float(q @ top) - after["hits"][0]["score"]) < 1e-3  # the query was embedded with the new model
        late_hits = search(rt, "who wrote the tide tables into the log at dawn", tenant, 1)["hits"]
        assert late_hits and late_hits[0]["document_id"] == late_id
        assert registry.active().version == version
        for _ in range(60):  # the chunk rows: every current one now carries the new model's vector
            rows = stack.sql("SELECT DISTINCT embedding_model FROM chunks c JOIN documents d ON d.id = c.document_id "
                             "AND c.generation = d.generation WHERE d.status = 'completed'")
            if rows == [(new_name,)]:
                break
            time.sleep(0.5)
        assert rows == [(new_name,)], rows
        target, model, points = live_points(stack, rt)
        assert model == new_name and target == outcome["new_collection"]
        late_points = [p for p in points if p.payload["document_id"] == late_id]
        assert late_points
        assert_vectors_are_of(late_points + points, new_encoder)

        # Rollback: the base model again, re-embedded; the first answers come back.
        assert registry.rollback_target() == 1
        back = rt.bus.call(ActivateModel(version=1), timeout_s=900)
        assert back["new_model"] == BASE and back["previous_version"] == version
        again = search(rt, QUERY, tenant, top_k=4)
        assert again["model"] == BASE
        kept = [h for h in again["hits"] if h["document_id"] != late_id][:3]  # the late document is new
        assert [h["chunk_id"] for h in kept] == [h["chunk_id"] for h in before["hits"]]
        assert [h["score"] for h in kept] == pytest.approx([h["score"] for h in before["hits"]], abs=1e-4)
        _target, model, points = live_points(stack, rt)
        assert model == BASE
        assert_vectors_are_of(points, packaged_encoder(PACKAGED, "onnx-int8"))
        statuses = {r["version"]: r["status"] for r in registry.list()}
        # Other versions (an earlier test's ONNX export, when run first) stay retired.
        assert statuses[1] == "active" and statuses[version] == "retired"
        assert [v for v, status in statuses.items() if status == "active"] == [1]


def test_model_cli_train_list_and_refusals(stack: Stack, docs: dict, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "".join(f"question {i} about topic {i}\tTopic {i} is explained in this passage about subject {i}.\n"
                for i in range(12))
    )
    res = stack.cli("model", "train", "--pairs", str(pairs), "--max-steps", "2", "--batch-size", "4",
                    "--held-out", "0.3", "--json")
    row = res.json()
    assert row["status"] in ("candidate", "rejected") and row["progress"]["step"] == 2
    assert {"candidate", "baseline", "baseline_version"} <= set(row["metrics"])
    assert row["parent_version"] == 1  # trained from the package's torch files (version 1 runs int8)
    listed = stack.cli("model", "list", "--json").json()
    assert [r["version"] for r in listed][-1] == row["version"]
    assert (listed[0]["name"], listed[0]["backend"]) == (BASE, "onnx-int8")
    human = stack.cli("model", "list").stdout
    assert "step 2/2" in human and row["status"] in human
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n")
    res = stack.cli("model", "train", "--pairs", str(bad), check=False)
    assert res.code == 1 and "bad.tsv:1: expected 2 tab-separated columns" in res.stderr
    res = stack.cli("model", "activate", "999", check=False)
    assert res.code == 1 and "no model version 999" in res.stderr
    res = stack.cli("model", "rollback", check=False)  # the packaged model is active again
    assert res.code == 1 and "nothing to roll back to" in res.stderr
    if row["status"] == "rejected":
        res = stack.cli("model", "activate", str(row["version"]), check=False)
        assert res.code == 1 and "rejected" in res.stderr
