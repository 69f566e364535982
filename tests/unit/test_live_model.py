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


def _opts():  # noqa: ANN202
    from documind.contracts import SearchQuery

    return SearchQuery(query="q", tenant="t", top_k=1, mode="dense")
