"""Composition root of the search service (``dramatiq documind_search.worker:setup``).

With Qdrant in local mode only one process may open the folder: run this service with a
single worker process (``--processes 1``), or give it ``DOCUMIND_QDRANT_URL`` to scale."""

from __future__ import annotations

import dramatiq
from sqlalchemy import distinct, select

from documind.contracts import (
    ActivateModel,
    CheckIndex,
    DeleteDocument,
    IndexChunks,
    OptimizeIndex,
    RefreshPayload,
    ReindexCollection,
    RetrainClassifier,
    SearchBatch,
    SearchQuery,
)
from documind.db.models import Document
from documind.embedding import Encoder, base_version_name, encoder_for, model_dimension
from documind.model_registry import build_registry
from documind.runtime import Runtime, boot
from documind.settings import Settings
from documind.tasks import declare
from documind.query_log import QueryLog
from documind.vectors import build_qdrant_client

from documind_search.cached_search import CachedSearch, Searcher
from documind_search.index_audit import IndexAudit
from documind_search.indexer import Indexer
from documind_search.keywords import Bm25Params
from documind_search.live import live_generations
from documind_search.optimize import Optimizer
from documind_search.payload_refresh import PayloadRefresher
from documind_search.query import QueryService, RetrievalSettings
from documind_search.reembed import Reembedder
from documind_search.reindex import Reindexer
from documind_search.recorded_search import RecordedSearch
from documind_search.result_cache import build_result_cache
from documind_search.local_mirror import LocalMirror
from documind_search.tenant_census import TenantCensus
from documind_search.vector_index import DENSE, SPARSE, FusionMethod, SearchMode, VectorIndex
from documind_search.warmup import WarmUp


class LazyVectorIndex:
    """Opens Qdrant on first use, so registering the actors (e.g. in a CLI process that only
    sends messages) never locks the local-mode folder."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(vector_index(self.runtime), name)


def vector_index(runtime: Runtime) -> VectorIndex:
    st = runtime.settings
    registry = build_registry(runtime)  # not inside build(): runtime.resource is not re-entrant

    def build() -> VectorIndex:
        client = build_qdrant_client(st)
        runtime.closers.append(client.close)
        # It follows the model of the live collection (a ``model activate`` may switch it).
        return VectorIndex(
            client, st.qdrant_collection, base_version_name(st), model_dimension(st.embedding_model),
            resolve=lambda name: registry.by_name(name).dimension,
            # Local mode filters in Python point by point; a server has payload indexes.
            census=None if st.qdrant_url else TenantCensus(),
            mirror=None if st.qdrant_url else LocalMirror(SPARSE, DENSE),
        )

    return runtime.resource("vector-index", build)


def bm25_params(st: Settings) -> Bm25Params:
    return Bm25Params(k1=st.bm25_k1, b=st.bm25_b, avg_len=st.bm25_avg_len)


def retrieval_settings(st: Settings) -> RetrievalSettings:
    return RetrievalSettings(
        default_mode=SearchMode(st.search_mode),
        fusion=FusionMethod(st.search_fusion),
        prefetch_limit=st.search_prefetch_limit,
    )


def model_encoders(runtime: Runtime):  # noqa: ANN201 - Callable[[str], Encoder]
    """A model name (the live collection's, a chunk row's) -> this process's encoder of it."""
    registry = build_registry(runtime)
    known: dict[str, Encoder] = {}  # a version's name never changes its folder: no DB read per query

    def encoder(name: str) -> Encoder:
        if name not in known:
            known[name] = encoder_for(runtime, registry.by_name(name))
        return known[name]

    return encoder


def model_bases(runtime: Runtime):  # noqa: ANN201 - Callable[[str], str]
    """A model name -> the packaged model it was made from (cached: a version's base never changes)."""
    registry = build_registry(runtime)
    known: dict[str, str] = {}

    def base_of(name: str) -> str:
        if name not in known:
            known[name] = registry.base_of(name)
        return known[name]

    return base_of


def register(runtime: Runtime) -> None:
    st = runtime.settings
    index = LazyVectorIndex(runtime)
    encoders = model_encoders(runtime)
    indexer = Indexer(runtime, index, bm25_params(st), reembed=Reembedder(runtime.sessions, encoders))  # type: ignore[arg-type]
    service = QueryService(
        runtime.sessions, encoders(base_version_name(st)), index, retrieval_settings(st),  # type: ignore[arg-type]
        encoders=encoders, base_of=model_bases(runtime),
    )
    # Interactive queries go through the query log and the cache; batches (evaluation, bulk
    # use) go straight to the service.
    queries = search_stack(runtime, service)
    declare(runtime, IndexChunks, indexer.index_chunks)
    declare(runtime, DeleteDocument, indexer.delete_document, store_results=True)
    declare(runtime, RefreshPayload, PayloadRefresher(runtime, index).refresh)  # type: ignore[arg-type]
    declare(runtime, SearchQuery, queries.search, store_results=True, time_limit_s=120)
    declare(runtime, SearchBatch, service.search_batch, store_results=True, time_limit_s=600)
    if st.search_warm_up:
        runtime.broker.add_middleware(WarmUp(service.warm_up))
    register_maintenance(runtime, index)  # type: ignore[arg-type]


def search_stack(runtime: Runtime, queries: Searcher) -> Searcher:
    """The query service, behind the result cache (if enabled), behind the query log."""
    st = runtime.settings
    searcher = queries
    if st.search_cache_enabled:
        searcher = CachedSearch(
            queries, build_result_cache(st), runtime.versions,
            live=lambda ids: live_generations(runtime.sessions, ids),
            model=base_version_name(st), metrics=runtime.metrics,
        )
    return RecordedSearch(searcher, QueryLog(runtime.sessions), runtime.metrics)


def register_maintenance(runtime: Runtime, index: VectorIndex) -> None:
    """Index check/repair, re-index and optimize: results go back to the caller (the CLI, or
    a scheduler in the maintenance service)."""
    st = runtime.settings
    audit = IndexAudit(runtime.sessions, index, bm25_params(st))
    reindexer = Reindexer(runtime.sessions, index, audit)
    optimizer = Optimizer(index, None if st.qdrant_url else st.effective_qdrant_path)
    limit = st.index_maintenance_time_limit_s

    def check(work: CheckIndex) -> dict:
        report = audit.run(tenant=work.tenant, repair=work.repair).as_dict()
        if work.repair:
            bump_every_tenant(runtime)
        return report

    def reindex(_work: ReindexCollection) -> dict:
        outcome = reindexer.run()
        bump_every_tenant(runtime)
        return outcome

    registry = build_registry(runtime)
    encoders = model_encoders(runtime)

    def activate(work: ActivateModel) -> dict:
        """Re-embed into the model version's own collection, switch, then record it active
        (the embed stage follows within DOCUMIND_MODEL_REFRESH_S)."""
        ref = registry.check_activatable(work.version)
        outcome = reindexer.run(model=ref, reembed=Reembedder(runtime.sessions, encoders))
        outcome["previous_version"] = registry.mark_active(work.version)
        outcome["version"] = work.version
        bump_every_tenant(runtime)
        outcome["classifiers_retrained"] = request_classifier_retrains(runtime, ref.name)
        return outcome

    declare(runtime, CheckIndex, check, store_results=True, time_limit_s=limit)
    declare(runtime, ActivateModel, activate, store_results=True, time_limit_s=limit)
    declare(runtime, ReindexCollection, reindex, store_results=True, time_limit_s=limit)
    declare(
        runtime, OptimizeIndex, lambda work: optimizer.run(work.quantization), store_results=True,
        time_limit_s=limit,
    )


def setup() -> dramatiq.Broker:
    return boot(register)


def request_classifier_retrains(runtime: Runtime, model: str) -> list[str]:
    """After the switch: a supervised label classifier is tied to the vector space it was
    trained in, so every tenant's of another model is rebuilt in ``model``'s by the embed
    service (``embed.retrain_classifier``, idempotent). Until it is, that tenant is classified
    zero-shot. Returns the tenants asked for."""
    from documind.label_model import models_of_other_embeddings

    tenants = models_of_other_embeddings(runtime.sessions, model)
    for tenant in tenants:
        runtime.bus.send(RetrainClassifier(tenant=tenant, embedding_model=model))
    return tenants


def bump_every_tenant(runtime: Runtime) -> None:
    """A repair or re-index may change any tenant's results: no cached answer survives it."""
    with runtime.sessions() as s:
        tenants = list(s.scalars(select(distinct(Document.tenant))))
    for tenant in tenants:
        runtime.versions.bump(tenant)
