"""The Qdrant collection of chunk vectors: one named dense vector (``dense``, the embedding
model's, cosine) and one sparse vector (``bm25``, with Qdrant's IDF modifier) per point,
explicit HNSW and payload-index settings, stamped with the embedding model and dimension it
holds (docs/design.md rule 5). Queries: dense, keyword (BM25) or hybrid (both prefetched, fused by
RRF or DBSF in Qdrant's Query API; in local mode, a query filtered by tenant alone is scored by
``local_mirror.py`` with the same formulas)."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Iterator

from qdrant_client import QdrantClient, models
from qdrant_client.hybrid.fusion import distribution_based_score_fusion, reciprocal_rank_fusion

from documind.errors import IndexLayoutOutdated, ModelMismatch
from documind.vectors import tune_local_storage

from documind_search.local_mirror import LocalMirror, older_than
from documind_search.tenant_census import TenantCensus

if TYPE_CHECKING:
    from documind_search.filters import SearchFilters
    from documind_search.keywords import SparseTerms

DENSE = "dense"
SPARSE = "bm25"

# Payload fields that filters use, and their index types (ignored by local mode, needed by a server).
PAYLOAD_INDEXES: tuple[tuple[str, models.PayloadSchemaType], ...] = (
    ("tenant", models.PayloadSchemaType.KEYWORD),
    ("document_id", models.PayloadSchemaType.KEYWORD),
    ("chunk_index", models.PayloadSchemaType.INTEGER),
    ("generation", models.PayloadSchemaType.INTEGER),
    ("mime_type", models.PayloadSchemaType.KEYWORD),
    ("labels", models.PayloadSchemaType.KEYWORD),
    ("entities", models.PayloadSchemaType.KEYWORD),
    ("created_at", models.PayloadSchemaType.DATETIME),
)


class SearchMode(str, Enum):
    DENSE = "dense"
    KEYWORD = "keyword"
    HYBRID = "hybrid"


class FusionMethod(str, Enum):
    RRF = "rrf"
    DBSF = "dbsf"


@dataclass(frozen=True)
class Point:
    id: str
    vector: list[float]
    payload: dict[str, Any]
    sparse: "SparseTerms | None" = field(default=None)


@dataclass(frozen=True)
class Hit:
    point_id: str
    score: float
    payload: dict[str, Any]


def versioned_name(alias: str, version: int) -> str:
    return f"{alias}__v{version}"


def version_of(alias: str, collection: str) -> int:
    """The version number of ``collection`` (a legacy collection named like the alias is 1)."""
    prefix = f"{alias}__v"
    if collection.startswith(prefix) and collection[len(prefix):].isdigit():
        return int(collection[len(prefix):])
    return 1


class CollectionGone(Exception):
    """The collection a query was planned against was switched away and dropped meanwhile."""


class VectorIndex:
    """``resolve`` (a model name -> its dimension) lets the index follow the model of the live
    collection (a ``model activate`` switched the alias, maybe in another replica): ``model``
    is then the live collection's, and a collection of an unknown model is still refused.
    Without it (tools, tests) ``model`` is fixed and any other model is refused."""

    def __init__(
        self, client: QdrantClient, collection: str, model: str, dimension: int,
        resolve: "Callable[[str], int] | None" = None, census: TenantCensus | None = None,
        mirror: LocalMirror | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.model = model
        self.dimension = dimension
        self.resolve = resolve
        self._live_target: str | None = None
        self._followed = False
        # qdrant-client's local mode is not safe for concurrent use from worker threads.
        self._lock = threading.RLock()
        self._ready = False
        # While a re-index copies into a new collection, every write lands there too.
        self._shadow: VectorIndex | None = None
        # Local mode only (see tenant_census.py): lets a single-tenant collection skip the filter.
        self._census = census
        # Local mode only (see local_mirror.py): scoring without the engine's per-point Python.
        self._mirror = mirror

    def set_shadow(self, shadow: "VectorIndex | None") -> None:
        with self._lock:
            self._shadow = shadow

    def ensure(self, check_layout: bool = True) -> None:
        """Create the collection (behind its alias) if missing; else check its layout and
        model. A re-index passes ``check_layout=False``: it is how an old layout is upgraded."""
        with self._lock:
            if self._ready:
                return
            if not self.client.collection_exists(self.collection):
                # A fresh deployment reads and writes through an alias from the start, so a
                # re-index can switch it (see reindex.py).
                target = versioned_name(self.collection, 1)
                self.create_collection(target)
                self.client.update_collection_aliases(
                    change_aliases_operations=[
                        models.CreateAliasOperation(
                            create_alias=models.CreateAlias(collection_name=target, alias_name=self.collection)
                        )
                    ]
                )
            else:
                if not check_layout:
                    return  # not marked ready: ordinary reads and writes still check
                self.check_layout()
                self._follow_live_model()
                self.check_model(self.model)
            self._ready = True

    def _follow_live_model(self) -> None:
        if self.resolve is None:
            return
        target = self.alias_target()
        if self._followed and target == self._live_target:
            return
        stored, _dim = self.collection_model()
        if stored is not None and stored != self.model:
            try:
                self.dimension = self.resolve(stored)
            except Exception as exc:  # noqa: BLE001 - an unknown model: refuse like before
                raise ModelMismatch(
                    f"collection {self.collection!r} holds vectors of model {stored!r}, which is neither the "
                    f"configured model {self.model!r} nor a registered model version ({exc})"
                ) from None
            self.model = stored
        self._live_target, self._followed = target, True

    def live(self) -> tuple[str, str]:
        """(the collection the alias points at now, its model): a query encodes with that
        model and searches that very collection, so the two always match across a switch."""
        self.ensure()
        with self._lock:
            self._follow_live_model()
            return self._live_target or self.collection, self.model

    def adopt(self, model: str, dimension: int) -> None:
        """This process switched the alias to a collection of ``model`` (under the lock)."""
        with self._lock:
            self.model, self.dimension = model, dimension
            self._live_target, self._followed = self.alias_target(), True

    def check_layout(self) -> None:
        """Refuse a collection written by an earlier release (one unnamed dense vector, no
        keyword vectors) with an error that says what to do, rather than failing in Qdrant."""
        params = self.client.get_collection(self.collection).config.params
        dense_ok = isinstance(params.vectors, dict) and DENSE in params.vectors
        sparse_ok = SPARSE in (params.sparse_vectors or {})
        if not (dense_ok and sparse_ok):
            raise IndexLayoutOutdated(
                f"collection {self.collection!r} has the old layout (one unnamed dense vector, no "
                f"{SPARSE!r} keyword vectors); re-index it into a new collection (or point "
                f"DOCUMIND_QDRANT_COLLECTION at a new name and re-process the documents)"
            )

    @property
    def lock(self) -> threading.RLock:
        """Held by every read and write; index maintenance holds it to fence writes briefly."""
        return self._lock

    def collection_params(self) -> dict[str, Any]:
        """Everything ``create_collection`` is given, so a re-index creates its new collection
        exactly as the service would."""
        return {
            "vectors_config": {DENSE: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)},
            "sparse_vectors_config": {SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            "hnsw_config": models.HnswConfigDiff(m=16, ef_construct=128, payload_m=16),
            "metadata": {"model": self.model, "dimension": self.dimension},
        }

    def create_collection(self, name: str) -> None:
        with self._lock:
            if self._mirror is not None:
                self._mirror.forget(name)
            self.client.create_collection(name, **self.collection_params())
            tune_local_storage(self.client)
            with warnings.catch_warnings():
                # Local mode ignores payload indexes (and says so); the server needs them.
                warnings.simplefilter("ignore", UserWarning)
                for field_name, schema in PAYLOAD_INDEXES:
                    self.client.create_payload_index(name, field_name, field_schema=schema)

    def warm_mirror(self) -> None:
        """Local mode: read the live collection into the mirror now (a worker's start), not on
        its first query."""
        if self._mirror is None:
            return
        self.ensure()
        with self._lock:
            self._mirror.prepare(self.client, self._real_name())

    def drop_collection(self, name: str) -> None:
        """Delete collection ``name`` (a re-index's old or half-built one) and what this process
        holds of it."""
        with self._lock:
            self.client.delete_collection(name)
            if self._mirror is not None:
                self._mirror.forget(name)

    def _real_name(self) -> str:
        """The collection ``self.collection`` names now (through the alias, if it is one)."""
        return self.alias_target() or self.collection

    def alias_target(self) -> str | None:
        """The collection the alias points at; None when ``collection`` is a real collection
        (a deployment from before aliases) or does not exist."""
        with self._lock:
            for alias in self.client.get_aliases().aliases:
                if alias.alias_name == self.collection:
                    return alias.collection_name
            return None

    def sibling(self, collection: str, model: str | None = None, dimension: int | None = None) -> "VectorIndex":
        """The same client and lock (and by default model), bound to another (versioned) collection."""
        other = VectorIndex(self.client, collection, model or self.model, dimension or self.dimension)
        other._lock = self._lock
        other._census = self._census  # one census per client: writes through any sibling count
        other._mirror = self._mirror  # likewise one mirror per client
        other._ready = True
        return other

    def collection_model(self) -> tuple[str | None, int | None]:
        info = self.client.get_collection(self.collection)
        meta = getattr(info.config, "metadata", None) or {}
        return meta.get("model"), meta.get("dimension")

    def check_model(self, model: str) -> None:
        stored_model, stored_dim = self.collection_model()
        if stored_model is not None and stored_model != model:
            raise ModelMismatch(
                f"collection {self.collection!r} holds vectors of model {stored_model!r}; "
                f"refusing to mix in or query with {model!r} (re-index into a new collection)"
            )
        if stored_dim is not None and stored_dim != self.dimension:
            raise ModelMismatch(f"collection dimension {stored_dim} != model dimension {self.dimension}")

    @staticmethod
    def _vectors(p: Point) -> dict[str, Any]:
        vectors: dict[str, Any] = {DENSE: p.vector}
        if p.sparse:
            vectors[SPARSE] = models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
        return vectors

    def upsert(self, points: list[Point]) -> None:
        if not points:
            return  # Qdrant refuses an empty update
        self.ensure()
        with self._lock:
            self.client.upsert(
                self.collection,
                points=[models.PointStruct(id=p.id, vector=self._vectors(p), payload=p.payload) for p in points],
                wait=True,
            )
            if self._census is not None:
                self._census.written(p.payload.get("tenant") for p in points)
            if self._mirror is not None:
                self._mirror.upserted(self._real_name(), ((p.id, p.payload, p.vector, p.sparse) for p in points))
            if self._shadow is not None:
                self._shadow.upsert(points)

    @staticmethod
    def _document_filter(document_id: str, before_generation: int | None = None) -> models.Filter:
        must: list[models.Condition] = [
            models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))
        ]
        must_not: list[models.Condition] = []
        if before_generation is not None:
            # must_not (not a ``lt`` range): a point without a generation goes too.
            must_not.append(models.FieldCondition(key="generation", range=models.Range(gte=before_generation)))
        return models.Filter(must=must, must_not=must_not or None)

    def delete_document(self, document_id: str, before_generation: int | None = None) -> None:
        """Remove a document's points (or only those of generations before
        ``before_generation``: what earlier generations, fenced ones included, left behind)."""
        self.ensure()
        with self._lock:
            located = self._document_points(document_id)
            if located is None:
                self.client.delete(
                    self.collection,
                    points_selector=models.FilterSelector(filter=self._document_filter(document_id, before_generation)),
                    wait=True,
                )
            else:
                ids = [pid for pid, gen in located.items() if older_than(gen, before_generation)]
                if ids:
                    self.client.delete(self.collection, points_selector=models.PointIdsList(points=ids), wait=True)
            if self._mirror is not None:
                self._mirror.deleted_document(self._real_name(), document_id, before_generation)
            if self._shadow is not None:
                self._shadow.delete_document(document_id, before_generation)

    def set_document_payload(self, document_id: str, generation: int, payload: dict[str, Any]) -> None:
        """Overwrite ``payload``'s keys on the points of one generation of a document (other
        keys stay). It never creates a point: a deletion that raced it still wins."""
        self.ensure()
        flt = models.Filter(must=[
            models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id)),
            models.FieldCondition(key="generation", match=models.MatchValue(value=generation)),
        ])
        with self._lock:
            located = self._document_points(document_id)
            if located is None:
                self.client.set_payload(self.collection, payload=payload, points=models.FilterSelector(filter=flt),
                                        wait=True)
            else:
                ids = [pid for pid, gen in located.items() if gen == generation]
                if ids:
                    self.client.set_payload(self.collection, payload=payload, points=ids, wait=True)
            if self._shadow is not None:
                self._shadow.set_document_payload(document_id, generation, payload)

    def delete_points(self, point_ids: list[str]) -> None:
        if not point_ids:
            return
        with self._lock:
            self.client.delete(self.collection, points_selector=models.PointIdsList(points=point_ids), wait=True)
            if self._mirror is not None:
                self._mirror.deleted_points(self._real_name(), point_ids)
            if self._shadow is not None:
                self._shadow.delete_points(point_ids)

    def scroll(
        self, flt: models.Filter | None, page_size: int, fields: list[str]
    ) -> "Iterator[tuple[str, dict[str, Any]]]":
        """Every point matching ``flt`` with the payload ``fields``, one page in memory at a
        time; the lock is held per page only, so writes and queries interleave."""
        offset = None
        while True:
            with self._lock:
                page, offset = self.client.scroll(
                    self.collection, scroll_filter=flt, limit=page_size, offset=offset,
                    with_payload=fields, with_vectors=False,
                )
            for p in page:
                yield str(p.id), dict(p.payload or {})
            if offset is None:
                return

    def count(self, document_id: str | None = None) -> int:
        self.ensure()
        with self._lock:
            located = self._document_points(document_id) if document_id else None
            if located is not None:
                return len(located)
            flt = self._document_filter(document_id) if document_id else None
            return self.client.count(self.collection, count_filter=flt, exact=True).count

    def _document_points(self, document_id: str) -> dict[str, int] | None:
        """Local mode: point id -> generation of the document's points, from the mirror (a
        filter there scans every point: local_mirror.py); None where the filter is the better
        way - a server answers it from its payload index, and a one-shot process whose mirror
        has not read the collection scans once rather than read it all."""
        if self._mirror is None:
            return None
        real = self._real_name()
        if not self._mirror.answers(real):
            return None
        return self._mirror.document_points(self.client, real, document_id)

    def search(
        self,
        *,
        filters: "SearchFilters",
        limit: int,
        mode: SearchMode = SearchMode.HYBRID,
        dense: list[float] | None = None,
        sparse: "SparseTerms | None" = None,
        fusion: FusionMethod = FusionMethod.RRF,
        prefetch_limit: int | None = None,
        collection: str | None = None,
    ) -> list[Hit]:
        """Top ``limit`` points under ``filters``. Hybrid prefetches ``prefetch_limit`` (at
        least ``limit``) candidates from each side and fuses them; a query without keyword
        terms (all stopwords) runs dense only, and keyword mode then finds nothing."""
        self.ensure()
        has_terms = bool(sparse)
        sparse_q = models.SparseVector(indices=sparse.indices, values=sparse.values) if has_terms else None
        if mode is SearchMode.KEYWORD and not has_terms:
            return []
        if mode is SearchMode.HYBRID and not has_terms:
            mode = SearchMode.DENSE
        if mode is not SearchMode.KEYWORD and dense is None:
            raise ValueError(f"{mode.value} search needs the query's dense vector")
        with self._lock:
            if collection is not None and not self.client.collection_exists(collection):
                raise CollectionGone(collection)
            target = collection or self.collection
            if self._mirror is not None and filters.without_tenant() is None:
                real = collection or self._real_name()
                if self._mirror.answers(real):
                    return self._query_mirrored(real, filters, limit, mode, dense, sparse, fusion, prefetch_limit)
            if self._census is not None:
                target = collection or self._real_name()  # the census counts real collections
                if self._census.only_tenant_is(target, filters.tenant, self._tenants_of):
                    hits = self._query(target, filters.without_tenant(), limit, mode, dense, sparse_q, fusion, prefetch_limit)
                    if all(h.payload.get("tenant") == filters.tenant for h in hits):
                        return hits
                    self._census.forget()  # cannot happen while the census is exact; never trust it then
            return self._query(target, filters.to_qdrant(), limit, mode, dense, sparse_q, fusion, prefetch_limit)

    def _query_mirrored(
        self, target: str, filters: "SearchFilters", limit: int, mode: SearchMode, dense: list[float] | None,
        sparse: "SparseTerms | None", fusion: FusionMethod, prefetch_limit: int | None,
    ) -> list[Hit]:
        """A query under a tenant-only filter, each side scored by the mirror: the same
        candidates, scores and fusion as the engine's Query API, then the hits read back from
        Qdrant (a point gone meanwhile is dropped; another tenant's is never returned)."""
        assert self._mirror is not None
        depth = limit if mode is not SearchMode.HYBRID else max(limit, prefetch_limit or 0)

        def scored(pairs: list[tuple[str, float]]) -> list[models.ScoredPoint]:
            return [models.ScoredPoint(id=pid, version=0, score=score) for pid, score in pairs]

        dense_side = keyword_side = []
        if mode is not SearchMode.KEYWORD:
            assert dense is not None
            dense_side = scored(self._mirror.dense_top(self.client, target, dense, filters.tenant, depth))
        if mode is not SearchMode.DENSE:
            assert sparse is not None
            keyword_side = scored(self._mirror.keyword_top(self.client, target, sparse, filters.tenant, depth))
        if mode is SearchMode.HYBRID:
            fuse = reciprocal_rank_fusion if fusion is FusionMethod.RRF else distribution_based_score_fusion
            ranked = fuse([dense_side, keyword_side], limit=limit)  # the engine's own fusion functions
        else:
            ranked = dense_side or keyword_side
        found = {
            str(p.id): dict(p.payload or {})
            for p in self.client.retrieve(target, ids=[str(p.id) for p in ranked], with_payload=True, with_vectors=False)
        }
        return [
            Hit(str(p.id), float(p.score), found[str(p.id)])
            for p in ranked
            if str(p.id) in found and found[str(p.id)].get("tenant") == filters.tenant
        ]

    def _tenants_of(self, collection: str) -> list[str]:
        found = self.client.facet(collection, key="tenant", limit=2, exact=True)
        return [str(h.value) for h in found.hits]

    def _query(
        self, collection: str, flt: models.Filter | None, limit: int, mode: SearchMode,
        dense: list[float] | None, sparse_q: models.SparseVector | None, fusion: FusionMethod,
        prefetch_limit: int | None,
    ) -> list[Hit]:
        kwargs: dict[str, Any]
        if mode is SearchMode.DENSE:
            kwargs = {"query": dense, "using": DENSE}
        elif mode is SearchMode.KEYWORD:
            kwargs = {"query": sparse_q, "using": SPARSE}
        else:
            depth = max(limit, prefetch_limit or 0)
            kwargs = {
                "prefetch": [
                    # Each side filtered on its own: fusion must never see another tenant's points.
                    models.Prefetch(query=dense, using=DENSE, filter=flt, limit=depth),
                    models.Prefetch(query=sparse_q, using=SPARSE, filter=flt, limit=depth),
                ],
                "query": models.FusionQuery(
                    fusion=models.Fusion.RRF if fusion is FusionMethod.RRF else models.Fusion.DBSF
                ),
            }
        result = self.client.query_points(collection, query_filter=flt, limit=limit, with_payload=True, **kwargs)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in result.points]
