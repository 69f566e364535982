"""The search index follows the model of the live collection (a model swap switched the alias):
queries plan against the collection and model the alias points at, a collection of an unknown
model is still refused, and an index without a resolver keeps refusing any other model."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from documind.errors import ModelMismatch

from documind_search.filters import SearchFilters
from documind_search.query import QueryService
from documind_search.vector_index import CollectionGone, Point, SearchMode, VectorIndex

DIM = 4


def switch(client: QdrantClient, alias: str, target: str) -> None:
    client.update_collection_aliases(change_aliases_operations=[
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)),
        models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=target, alias_name=alias)),
    ])


def test_index_follows_the_live_collections_model() -> None:
    client = QdrantClient(location=":memory:")
    known = {"m1": DIM, "m2": DIM}
    idx = VectorIndex(client, "chunks", "m1", DIM, resolve=lambda name: known[name])
    idx.ensure()
    assert idx.live() == ("chunks__v1", "m1")
    idx.sibling("chunks__v2", model="m2").create_collection("chunks__v2")
    switch(client, "chunks", "chunks__v2")
    assert idx.live() == ("chunks__v2", "m2") and idx.model == "m2"
    idx.sibling("chunks__v3", model="m3").create_collection("chunks__v3")
    switch(client, "chunks", "chunks__v3")
    with pytest.raises(ModelMismatch, match="m3"):
        idx.live()
    # Without a resolver (tools, tests) the model is fixed: another one is refused as before.
    fixed = VectorIndex(client, "chunks", "m1", DIM)
    with pytest.raises(ModelMismatch):
        fixed.ensure()


class OneHot:
    """A stand-in encoder of a named model: every text to the same unit vector."""

    def __init__(self, name: str, axis: int) -> None:
        self.model_name, self.axis = name, axis

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        out[:, self.axis] = 1.0
        return out


def test_query_encodes_with_the_live_model_and_replans_when_its_collection_is_gone(monkeypatch) -> None:
    client = QdrantClient(location=":memory:")
    idx = VectorIndex(client, "chunks", "m1", DIM, resolve=lambda name: DIM)
    idx.ensure()
    idx.sibling("chunks__v2", model="m2").create_collection("chunks__v2")
    payload = {"tenant": "t", "document_id": "d", "generation": 1, "chunk_index": 0, "text": "x"}
    idx.upsert([Point("00000000-0000-0000-0000-000000000001", [1.0, 0, 0, 0], payload)])
    idx.sibling("chunks__v2").upsert([Point("00000000-0000-0000-0000-000000000002", [0, 1.0, 0, 0], payload)])
    encoders = {"m1": OneHot("m1", 0), "m2": OneHot("m2", 1)}
    qs = QueryService(None, encoders["m1"], idx, encoders=encoders.__getitem__)  # type: ignore[arg-type]
    monkeypatch.setattr(qs, "_live_generations", lambda ids: {"d": 1})

    def top(q: QueryService) -> tuple[float, str]:
        hits, model = q._run(["q"], _opts(), SearchMode.DENSE)
        return hits[0][0]["score"], model

    assert top(qs) == (pytest.approx(1.0), "m1")
    switch(client, "chunks", "chunks__v2")
    assert top(qs) == (pytest.approx(1.0), "m2")  # m2's vector, against m2's collection

    # Planned against a collection dropped before the query ran: planned again, answered.
    real_live = idx.live
    calls = iter([("chunks__gone", "m1")])
    monkeypatch.setattr(idx, "live", lambda: next(calls, None) or real_live())
    assert top(qs) == (pytest.approx(1.0), "m2")
    with pytest.raises(CollectionGone):
        idx.search(filters=SearchFilters(tenant="t"), limit=1, mode=SearchMode.DENSE, dense=[0, 1.0, 0, 0],
                   collection="chunks__gone")


def _opts(model: str | None = None):  # noqa: ANN202
    from documind.contracts import SearchQuery

    return SearchQuery(query="q", tenant="t", top_k=1, mode="dense", model=model)


def test_a_caller_configured_with_the_base_model_is_answered_by_a_live_version_of_it() -> None:
    """`documind search` sends its configured (packaged) model; after `model activate` the live
    collection holds a version made from it (fine-tuned, ONNX export): answered, not refused.
    A version of another base, or another model, is still refused."""
    client = QdrantClient(location=":memory:")
    idx = VectorIndex(client, "chunks", "m1", DIM, resolve=lambda name: DIM)
    idx.ensure()
    bases = {"m1": "m1", "m1-onnx-int8-v2": "m1", "x-ft-v3": "x"}
    qs = QueryService(None, OneHot("m1", 0), idx, encoders=lambda n: OneHot(n, 0), base_of=bases.get)  # type: ignore[arg-type]
    assert qs._prepare(_opts("m1")) is SearchMode.DENSE
    idx.sibling("chunks__v2", model="m1-onnx-int8-v2").create_collection("chunks__v2")
    switch(client, "chunks", "chunks__v2")
    assert qs._prepare(_opts("m1")) is SearchMode.DENSE
    assert qs._prepare(_opts("m1-onnx-int8-v2")) is SearchMode.DENSE
    with pytest.raises(ModelMismatch, match="'other'"):
        qs._prepare(_opts("other"))
    idx.sibling("chunks__v3", model="x-ft-v3").create_collection("chunks__v3")
    switch(client, "chunks", "chunks__v3")
    with pytest.raises(ModelMismatch, match="'m1'"):
        qs._prepare(_opts("m1"))
    # Without base_of (tools, tests), names are compared as they are.
    plain = QueryService(None, OneHot("m1", 0), idx, encoders=lambda n: OneHot(n, 0))  # type: ignore[arg-type]
    with pytest.raises(ModelMismatch):
        plain._prepare(_opts("m1"))


def test_indexer_reembeds_rows_of_another_model_than_the_live_collections(clean_env, tmp_path) -> None:
    """After a swap, the embed stage may still have used the old model for a while: the
    indexer writes those rows with the live collection's model, and stores the new vectors."""
    from documind.contracts import IndexChunks
    from documind.runtime import build_runtime
    from documind.settings import load_settings

    from documind_search.indexer import Indexer
    from documind_search.reembed import Reembedder
    from tests.unit.test_generation_points import MODEL as OLD_MODEL, register, store_generation

    rt = build_runtime(load_settings(data_dir=tmp_path / "data", renditions=False), configure_logs=False)
    try:
        doc_id, gen = register(rt)
        store_generation(rt, doc_id, gen, ["glaciers carve valleys", "honeybees dance figures"])  # OLD_MODEL rows
        client = QdrantClient(location=":memory:")
        idx = VectorIndex(client, "chunks", OLD_MODEL, 8, resolve=lambda name: 8)
        idx.ensure()
        idx.sibling("chunks__v2", model="m2", dimension=8).create_collection("chunks__v2")
        switch(client, "chunks", "chunks__v2")  # the live collection is m2's now

        class M2:
            model_name = "m2"

            def encode(self, texts: list[str]) -> np.ndarray:
                out = np.zeros((len(texts), 8), dtype=np.float32)
                out[:, 5] = 1.0
                return out

        indexer = Indexer(rt, idx, reembed=Reembedder(rt.sessions, lambda name: {"m2": M2()}[name]))
        assert indexer.index_chunks(IndexChunks(document_id=doc_id, generation=gen, start=0, end=2)) == 2
        points, _ = client.scroll("chunks__v2", limit=10, with_vectors=True)
        assert len(points) == 2 and all(p.vector["dense"][5] == pytest.approx(1.0) for p in points)
        from documind.db.models import Chunk

        with rt.sessions() as s:
            assert {c.embedding_model for c in s.query(Chunk).filter(Chunk.document_id == doc_id)} == {"m2"}
        assert rt.status.get(doc_id).status.value == "completed"
    finally:
        rt.close()
