"""Composition root of the search service (``dramatiq documind_search.worker:setup``).

With Qdrant in local mode only one process may open the folder: run this service with a
single worker process (``--processes 1``), or give it ``DOCUMIND_QDRANT_URL`` to scale."""

from __future__ import annotations

import dramatiq

from documind.contracts import (
    CheckIndex,
    DeleteDocument,
    IndexChunks,
    OptimizeIndex,
    ReindexCollection,
    SearchQuery,
)
from documind.embedding import model_dimension, shared_encoder
from documind.runtime import Runtime, boot
from documind.tasks import declare
from documind.vectors import build_qdrant_client

from documind_search.index_audit import IndexAudit
from documind_search.indexer import Indexer
from documind_search.optimize import Optimizer
from documind_search.query import QueryService
from documind_search.reindex import Reindexer
from documind_search.vector_index import VectorIndex


class LazyVectorIndex:
    """Opens Qdrant on first use, so registering the actors (e.g. in a CLI process that only
    sends messages) never locks the local-mode folder."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(vector_index(self.runtime), name)


def vector_index(runtime: Runtime) -> VectorIndex:
    st = runtime.settings

    def build() -> VectorIndex:
        client = build_qdrant_client(st)
        runtime.closers.append(client.close)
        return VectorIndex(client, st.qdrant_collection, st.embedding_model, model_dimension(st.embedding_model))

    return runtime.resource("vector-index", build)


def register(runtime: Runtime) -> None:
    index = LazyVectorIndex(runtime)
    indexer = Indexer(runtime, index)  # type: ignore[arg-type]
    queries = QueryService(runtime.sessions, shared_encoder(runtime), index)  # type: ignore[arg-type]
    declare(runtime, IndexChunks, indexer.index_chunks)
    declare(runtime, DeleteDocument, indexer.delete_document, store_results=True)
    declare(runtime, SearchQuery, queries.search, store_results=True, time_limit_s=120)
    register_maintenance(runtime, index)  # type: ignore[arg-type]


def register_maintenance(runtime: Runtime, index: VectorIndex) -> None:
    """Index check/repair, re-index and optimize: results go back to the caller (the CLI, or
    a scheduler in the maintenance service)."""
    st = runtime.settings
    audit = IndexAudit(runtime.sessions, index)
    reindexer = Reindexer(runtime.sessions, index, audit)
    optimizer = Optimizer(index, None if st.qdrant_url else st.effective_qdrant_path)
    limit = st.index_maintenance_time_limit_s

    def check(work: CheckIndex) -> dict:
        return audit.run(tenant=work.tenant, repair=work.repair).as_dict()

    declare(runtime, CheckIndex, check, store_results=True, time_limit_s=limit)
    declare(runtime, ReindexCollection, lambda _work: reindexer.run(), store_results=True, time_limit_s=limit)
    declare(
        runtime, OptimizeIndex, lambda work: optimizer.run(work.quantization), store_results=True,
        time_limit_s=limit,
    )


def setup() -> dramatiq.Broker:
    return boot(register)
