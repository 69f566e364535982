"""documind_search.vector_index on Qdrant local mode (in memory): collection layout, the
old-layout refusal, dense / keyword / hybrid retrieval and every filter."""

from __future__ import annotations

import uuid
from datetime import datetime

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from documind.errors import IndexLayoutOutdated, ModelMismatch
from documind_search.filters import SearchFilters, payload_timestamp
from documind_search.keywords import Bm25Params, document_vector, query_vector
from documind_search.vector_index import DENSE, SPARSE, FusionMethod, Point, SearchMode, VectorIndex

DIM = 8
MODEL = "all-MiniLM-L6-v2"


def _unit(seed: int) -> list[float]:
    v = np.random.default_rng(seed).normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


DOCS = [
    # (id, tenant, text, mime, labels, created, dense seed)
    ("a", "t1", "zebrafish fin regeneration after amputation", "application/pdf", ["biology"], datetime(2026, 1, 5), 1),
    ("b", "t1", "quarterly revenue grew in the retail segment", "text/plain", ["finance"], datetime(2026, 2, 5), 2),
    ("c", "t1", "protein folding simulated with molecular dynamics", "text/html", [], datetime(2026, 3, 5), 3),
    ("d", "t2", "zebrafish fin regeneration in another tenant", "application/pdf", ["biology"], datetime(2026, 1, 5), 1),
]


@pytest.fixture
def index() -> VectorIndex:
    idx = VectorIndex(QdrantClient(location=":memory:"), "chunks", MODEL, DIM)
    idx.upsert([
        Point(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, d)), vector=_unit(seed),
            sparse=document_vector(text, Bm25Params(avg_len=6)),
            payload={"tenant": t, "document_id": d, "text": text, "mime_type": mime, "labels": labels,
                     "created_at": payload_timestamp(created)},
        )
        for d, t, text, mime, labels, created, seed in DOCS
    ])
    return idx


def _ids(hits) -> list[str]:  # noqa: ANN001
    return [h.payload["document_id"] for h in hits]


def _search(index: VectorIndex, text: str, dense_seed: int, mode: SearchMode, **flt) -> list[str]:  # noqa: ANN003
    filters = SearchFilters(tenant=flt.pop("tenant", "t1"), **flt)
    return _ids(index.search(filters=filters, limit=10, mode=mode, dense=_unit(dense_seed),
                             sparse=query_vector(text), fusion=FusionMethod.DBSF))


def test_collection_has_named_dense_and_idf_sparse_vectors(index: VectorIndex) -> None:
    params = index.client.get_collection("chunks").config.params
    assert params.vectors[DENSE].size == DIM
    assert params.sparse_vectors[SPARSE].modifier == models.Modifier.IDF
    assert index.collection_model() == (MODEL, DIM)


def test_keyword_finds_the_exact_term_only(index: VectorIndex) -> None:
    assert _search(index, "zebrafish", 3, SearchMode.KEYWORD) == ["a"]
    assert _search(index, "the of and", 3, SearchMode.KEYWORD) == []  # nothing searchable


def test_dense_ranks_by_vector(index: VectorIndex) -> None:
    assert _search(index, "zebrafish", 3, SearchMode.DENSE)[0] == "c"


@pytest.mark.parametrize("fusion", list(FusionMethod))
def test_hybrid_returns_both_sides(index: VectorIndex, fusion: FusionMethod) -> None:
    hits = _ids(index.search(filters=SearchFilters(tenant="t1"), limit=2, mode=SearchMode.HYBRID,
                             dense=_unit(3), sparse=query_vector("zebrafish"), fusion=fusion))
    assert set(hits) == {"a", "c"}  # "a" only by keyword, "c" best by vector


def test_hybrid_without_keyword_terms_is_dense(index: VectorIndex) -> None:
    assert _search(index, "the of", 3, SearchMode.HYBRID)[0] == "c"


@pytest.mark.parametrize("mode", list(SearchMode))
def test_tenant_isolation_in_every_mode(index: VectorIndex, mode: SearchMode) -> None:
    assert _search(index, "zebrafish regeneration", 1, mode, tenant="t2") == ["d"]
    assert "d" not in _search(index, "zebrafish regeneration", 1, mode)
    assert _search(index, "zebrafish", 1, mode, tenant="nobody") == []


@pytest.mark.parametrize("mode", list(SearchMode))
def test_filters(index: VectorIndex, mode: SearchMode) -> None:
    q = "zebrafish revenue protein"
    assert set(_search(index, q, 1, mode, mime_types=("text/plain", "text/html"))) <= {"b", "c"}
    assert set(_search(index, q, 1, mode, labels=("finance",))) == {"b"}
    assert set(_search(index, q, 1, mode, document_ids=("a", "c"))) <= {"a", "c"}
    assert set(_search(index, q, 1, mode, created_since=datetime(2026, 2, 1), created_until=datetime(2026, 3, 1))) == {"b"}
    assert set(_search(index, q, 1, mode, created_since=datetime(2026, 3, 1))) == {"c"}


def test_old_layout_is_refused_with_a_re_index_hint() -> None:
    client = QdrantClient(location=":memory:")
    client.create_collection("chunks", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
                             metadata={"model": MODEL, "dimension": DIM})
    idx = VectorIndex(client, "chunks", MODEL, DIM)
    with pytest.raises(IndexLayoutOutdated, match="old layout.*re-index"):
        idx.ensure()
    with pytest.raises(IndexLayoutOutdated):
        idx.search(filters=SearchFilters(tenant="t"), limit=3, dense=_unit(1), mode=SearchMode.DENSE)


def test_another_model_is_refused(index: VectorIndex) -> None:
    with pytest.raises(ModelMismatch, match="refusing"):
        index.check_model("other-model")
    other = VectorIndex(index.client, "chunks", "other-model", DIM)
    with pytest.raises(ModelMismatch):
        other.ensure()


def _journal(path) -> list[tuple[str, str]]:  # noqa: ANN001
    """(collection, journal mode) of every collection file under a local-mode folder."""
    import sqlite3

    found = []
    for file in sorted(path.glob("collection/*/storage.sqlite")):
        with sqlite3.connect(file) as conn:
            found.append((file.parent.name, conn.execute("PRAGMA journal_mode").fetchone()[0]))
    return found


def test_local_collections_are_stored_in_wal_mode_and_reopen_with_their_points(tmp_path) -> None:  # noqa: ANN001
    """Each point is its own SQLite commit in local mode: the files are put in WAL mode with
    synchronous=NORMAL (documind.vectors.tune_local_storage), on creation and on opening."""
    from documind.settings import Settings
    from documind.vectors import build_qdrant_client, tune_local_storage

    settings = Settings(qdrant_path=tmp_path / "qdrant")
    client = build_qdrant_client(settings)
    idx = VectorIndex(client, "chunks", MODEL, DIM)
    idx.upsert([Point(id=str(uuid.uuid5(uuid.NAMESPACE_URL, d)), vector=_unit(seed), payload={"document_id": d})
                for d, *_rest, seed in DOCS])
    connection = client._client.collections["chunks__v1"].storage.storage
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert _journal(tmp_path / "qdrant") == [("chunks__v1", "wal")]
    client.close()

    reopened = build_qdrant_client(settings)
    assert tune_local_storage(reopened) == 1  # a qdrant-client that moved its storage would give 0
    assert reopened._client.collections["chunks__v1"].storage.storage.execute(
        "PRAGMA synchronous").fetchone()[0] == 1
    assert VectorIndex(reopened, "chunks", MODEL, DIM).count() == len(DOCS)
    reopened.close()
