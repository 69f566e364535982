"""Dense and keyword (BM25) scoring for local-mode collections in one matrix product each.

Why: qdrant-client's local mode scores a sparse query with a Python loop over every point
(``sparse_dot_product`` per point): at 15,000 chunks ~0.6-1.6 s per keyword query, ~90 % of a
hybrid one (the default mode). A dense query normalises every stored vector again and sorts
every score (tens of ms at 15,000, growing with the collection). A Qdrant server answers both
from its indexes, so the mirror is only used in local mode, where one process owns the
collection folder (Qdrant's file lock) and every write goes through this process's
``VectorIndex``.

What it holds, per real collection: each point's id, tenant, document id and generation, its
unit dense vector (a float32 matrix, points x dimension) and its BM25 term weights (a SciPy
CSC matrix, points x terms). A query is scored as the engine scores it:

- dense: cosine, i.e. the dot product of unit vectors (the engine normalises on upsert);
- keyword: term weight x ``ln((N - df + 0.5) / (df + 0.5) + 1)`` over the collection's points
  that have keyword terms (Qdrant's ``Modifier.IDF``, all tenants), summed over the shared
  terms; only points sharing a term with the query are candidates.

The same record answers which points a document has (``document_points``): a filtered
delete or payload update scans every point in local mode (~0.35 s at 15,000 points), and one
ran for every completed document (its labels) - quadratic in a bulk ingest. By id it is ~3 ms.

It is kept exact by write-through (``upserted``, ``deleted_document``, ``deleted_points``,
``forget``; changes are folded into the matrices before the next query) and checked on every
query against the collection's point count: any difference (a write that bypassed it, a
collection dropped and created again) makes it read the collection again. The mirror only
ranks: hits are read back from Qdrant by id, so a point that is gone is never returned, and the
tenant is checked again on every hit (``VectorIndex.search``)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from documind_search.keywords import SparseTerms

# Uses of a collection (queries, lookups of a document's points) a process leaves to the engine
# before the mirror reads it: the read costs ~0.2 s per 1,000 chunks, which a one-shot embedded
# ``documind search`` should not pay for one query. A search worker reads the live collection at
# its warm-up instead.
READ_AFTER_QUERIES = 3
# New points kept beside the matrices before they are folded in without a query (an ingest
# with no searches): at least this many, or half the rows, so folds stay rare.
FOLD_AT = 1024
SCROLL_PAGE = 4096  # local mode sorts every id for each page; a page of vectors is Python floats (~10 KB a point)
NO_GENERATION = -1


@dataclass
class _New:
    """A point written since the matrices were last built."""

    tenant: str | None
    document_id: str | None
    generation: int
    terms: np.ndarray  # uint32 term ids (empty: no keyword terms)
    weights: np.ndarray  # float32
    dense: np.ndarray  # float32, unit length


@dataclass
class _Collection:
    dimension: int
    ids: list[str] = field(default_factory=list)
    row_of: dict[str, int] = field(default_factory=dict)
    tenants: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    documents: list[str | None] = field(default_factory=list)
    generations: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keywords: Any = None  # scipy.sparse.csc_matrix, rows x terms
    dense: np.ndarray | None = None  # rows x dimension
    with_terms: int = 0  # points that have keyword terms: Qdrant's N
    rows_of_document: dict[str | None, list[int]] = field(default_factory=dict)
    tenant_codes: dict[str | None, int] = field(default_factory=dict)
    vocab: dict[int, int] = field(default_factory=dict)  # term id -> column
    dead: set[int] = field(default_factory=set)
    new: dict[str, _New] = field(default_factory=dict)
    new_of_document: dict[str | None, set[str]] = field(default_factory=dict)

    def add_new(self, pid: str, point: _New) -> None:
        self.drop_new(pid)
        self.new[pid] = point
        self.new_of_document.setdefault(point.document_id, set()).add(pid)

    def drop_new(self, pid: str) -> None:
        point = self.new.pop(pid, None)
        if point is not None:
            self.new_of_document.get(point.document_id, set()).discard(pid)

    def document_points(self, document_id: str) -> dict[str, int]:
        """Point id -> generation of every point of ``document_id``."""
        found = {self.ids[row]: int(self.generations[row])
                 for row in self.rows_of_document.get(document_id, ()) if row not in self.dead}
        for pid in self.new_of_document.get(document_id, ()):
            found[pid] = self.new[pid].generation
        return found

    @property
    def points(self) -> int:
        return len(self.ids) - len(self.dead) + sum(1 for pid in self.new if pid not in self.row_of or
                                                    self.row_of[pid] in self.dead)

    def fold(self) -> None:
        """Fold deletions and new points into the matrices (rows in a new order)."""
        from scipy.sparse import csr_matrix, vstack

        if not self.dead and not self.new:
            return
        keep = np.ones(len(self.ids), dtype=bool)
        keep[list(self.dead)] = False
        for pid in self.new:
            row = self.row_of.get(pid)
            if row is not None:
                keep[row] = False  # rewritten: the new version replaces it
        added = list(self.new.items())
        terms = np.concatenate([n.terms for _, n in added]) if added else np.zeros(0, np.uint32)
        unique, inverse = np.unique(terms, return_inverse=True)  # a Python step per distinct term only
        columns = np.fromiter((self.vocab.setdefault(int(t), len(self.vocab)) for t in unique), dtype=np.int64,
                              count=unique.size)[inverse.ravel()]
        indptr = np.concatenate(([0], np.cumsum([n.terms.size for _, n in added]))).astype(np.int64)
        weights = np.concatenate([n.weights for _, n in added]).astype(np.float64) if added else np.zeros(0)
        fresh = csr_matrix((weights, columns, indptr), shape=(len(added), len(self.vocab)))
        kept = self.keywords[np.nonzero(keep)[0]] if self.keywords is not None else None
        if kept is not None:
            kept.resize((kept.shape[0], len(self.vocab)))
        self.keywords = (vstack([kept, fresh], format="csc") if kept is not None else fresh.tocsc())
        fresh_dense = (np.stack([n.dense for _, n in added]) if added
                       else np.zeros((0, self.dimension), np.float32))
        self.dense = np.concatenate([self.dense[keep], fresh_dense]) if self.dense is not None else fresh_dense
        self.ids = [pid for pid, k in zip(self.ids, keep) if k] + [pid for pid, _ in added]
        self.documents = [d for d, k in zip(self.documents, keep) if k] + [n.document_id for _, n in added]
        self.tenants = np.concatenate([self.tenants[keep], np.fromiter(
            (self.tenant_codes.setdefault(n.tenant, len(self.tenant_codes)) for _, n in added), dtype=np.int32,
            count=len(added))])
        self.generations = np.concatenate([self.generations[keep],
                                           np.array([n.generation for _, n in added], dtype=np.int64)])
        self.row_of = {pid: i for i, pid in enumerate(self.ids)}
        self.rows_of_document = {}
        for i, doc in enumerate(self.documents):
            self.rows_of_document.setdefault(doc, []).append(i)
        self.with_terms = int(np.count_nonzero(np.bincount(self.keywords.indices, minlength=len(self.ids))))
        self.dead.clear()
        self.new.clear()
        self.new_of_document.clear()


class LocalMirror:
    def __init__(self, sparse_vector: str, dense_vector: str, read_after: int = READ_AFTER_QUERIES) -> None:
        self.sparse_vector = sparse_vector
        self.dense_vector = dense_vector
        self.read_after = read_after
        self._collections: dict[str, _Collection] = {}
        self._asked: dict[str, int] = {}
        self._lock = threading.Lock()
        self.rebuilds = 0  # full reads of a collection (tests, diagnostics)

    # ---- writes (called by VectorIndex under its lock, after Qdrant accepted them) -------
    def upserted(
        self, collection: str, points: Iterable[tuple[str, dict[str, Any], Sequence[float], "SparseTerms | None"]]
    ) -> None:
        with self._lock:
            entry = self._collections.get(collection)
            if entry is None:
                return  # not read yet: the first query reads it whole
            for pid, payload, dense, sparse in points:
                entry.add_new(str(pid), _new(payload, dense, sparse.indices if sparse else (),
                                             sparse.values if sparse else ()))
            if len(entry.new) >= max(FOLD_AT, len(entry.ids) // 2):
                entry.fold()

    def deleted_document(self, collection: str, document_id: str, before_generation: int | None) -> None:
        """As ``VectorIndex._document_filter``: the document's points, or those of generations
        before ``before_generation`` (a point without a generation included)."""

        with self._lock:
            entry = self._collections.get(collection)
            if entry is None:
                return
            for row in entry.rows_of_document.get(document_id, ()):
                if older_than(int(entry.generations[row]), before_generation):
                    entry.dead.add(row)
            for pid in [p for p in entry.new_of_document.get(document_id, ())
                        if older_than(entry.new[p].generation, before_generation)]:
                entry.drop_new(pid)

    def deleted_points(self, collection: str, point_ids: Iterable[str]) -> None:
        with self._lock:
            entry = self._collections.get(collection)
            if entry is None:
                return
            for pid in map(str, point_ids):
                entry.drop_new(pid)
                row = entry.row_of.get(pid)
                if row is not None:
                    entry.dead.add(row)

    def forget(self, collection: str | None = None) -> None:
        with self._lock:
            if collection is None:
                self._collections.clear()
                self._asked.clear()
            else:
                self._collections.pop(collection, None)
                self._asked.pop(collection, None)

    # ---- queries -------------------------------------------------------------------------
    def answers(self, collection: str) -> bool:
        """Whether this query of ``collection`` should be scored here: once the collection is
        held, or from its ``read_after``-th query in this process (which reads it)."""
        with self._lock:
            if collection in self._collections:
                return True
            self._asked[collection] = asked = self._asked.get(collection, 0) + 1
            return asked >= self.read_after

    def keyword_top(
        self, client: "QdrantClient", collection: str, query: "SparseTerms", tenant: str, limit: int
    ) -> list[tuple[str, float]]:
        """The ``limit`` best (point id, BM25 score) of ``tenant`` for ``query``, best first."""
        with self._lock:
            entry = self._current(client, collection)
            cols, weights = [], []
            for term, value in zip(query.indices, query.values):
                col = entry.vocab.get(int(term))
                if col is not None:
                    cols.append(col)
                    weights.append(value)
            code = entry.tenant_codes.get(tenant)
            if not cols or code is None or entry.keywords is None:
                return []
            sub = entry.keywords[:, cols]
            df = np.diff(sub.indptr)  # stored weights are > 0: non-zeros are the document frequency
            n = entry.with_terms
            idf = np.array([math.log((n - d + 0.5) / (d + 0.5) + 1) for d in df])
            scores = np.asarray(sub @ (np.asarray(weights) * idf), dtype=np.float32).ravel()
            candidates = np.unique(sub.indices)  # rows sharing at least one term with the query
            return _best(entry, scores, candidates[entry.tenants[candidates] == code], limit)

    def dense_top(
        self, client: "QdrantClient", collection: str, vector: Sequence[float], tenant: str, limit: int
    ) -> list[tuple[str, float]]:
        """The ``limit`` best (point id, cosine) of ``tenant`` for ``vector``, best first."""
        with self._lock:
            entry = self._current(client, collection)
            code = entry.tenant_codes.get(tenant)
            if code is None or entry.dense is None or not len(entry.ids):
                return []
            scores = entry.dense @ _unit(vector)
            return _best(entry, scores, np.nonzero(entry.tenants == code)[0], limit)

    def document_points(self, client: "QdrantClient", collection: str, document_id: str) -> dict[str, int]:
        """Point id -> generation (``NO_GENERATION`` if it has none) of every point of
        ``document_id`` in ``collection``, read from the collection first if not held."""
        with self._lock:
            return self._current(client, collection, fold=False).document_points(document_id)

    def prepare(self, client: "QdrantClient", collection: str) -> None:
        """Read ``collection`` now if it is not held yet. A process that prepares is long-lived
        (a search worker's warm-up): any other collection it is asked about (the new one of a
        model swap) is read at its first query."""
        with self._lock:
            self.read_after = 1
            self._current(client, collection)

    def _current(self, client: "QdrantClient", collection: str, fold: bool = True) -> _Collection:
        points = client.count(collection, exact=True).count
        entry = self._collections.get(collection)
        if entry is None or entry.points != points:  # a write this mirror did not see: read it again
            entry = self._read(client, collection)
            self._collections[collection] = entry
            self.rebuilds += 1
        if fold:
            entry.fold()
        return entry

    def _read(self, client: "QdrantClient", collection: str) -> _Collection:
        params = client.get_collection(collection).config.params.vectors
        entry = _Collection(dimension=int(params[self.dense_vector].size))  # type: ignore[index]
        offset = None
        while True:
            page, offset = client.scroll(
                collection, limit=SCROLL_PAGE, offset=offset,
                with_payload=["tenant", "document_id", "generation"],
                with_vectors=[self.dense_vector, self.sparse_vector],
            )
            for p in page:
                vectors = p.vector if isinstance(p.vector, dict) else {}
                sparse = vectors.get(self.sparse_vector)
                entry.add_new(str(p.id), _new(
                    p.payload or {}, vectors.get(self.dense_vector) or np.zeros(entry.dimension),
                    sparse.indices if sparse else (), sparse.values if sparse else (),
                ))
            if offset is None:
                return entry


def older_than(generation: int, before_generation: int | None) -> bool:
    """Whether a point of ``generation`` is among a document's points "before
    ``before_generation``" (all of them when None; a point without a generation always):
    ``VectorIndex._document_filter``'s rule."""
    return before_generation is None or generation == NO_GENERATION or generation < before_generation


def _unit(vector: Sequence[float]) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


def _new(payload: dict[str, Any], dense: Sequence[float], terms: Iterable[int], weights: Iterable[float]) -> _New:
    gen = payload.get("generation")
    return _New(
        tenant=payload.get("tenant"), document_id=payload.get("document_id"),
        generation=int(gen) if isinstance(gen, (int, float)) else NO_GENERATION,
        terms=np.asarray(list(terms), dtype=np.uint32), weights=np.asarray(list(weights), dtype=np.float32),
        dense=_unit(dense),
    )


def _best(entry: _Collection, scores: np.ndarray, candidates: np.ndarray, limit: int) -> list[tuple[str, float]]:
    """The ``limit`` best candidates, ties broken by point id: the same answer from any
    collection holding the same points, whatever order they were written in."""
    if candidates.size == 0 or limit <= 0:
        return []
    picked = scores[candidates]
    if candidates.size > limit:
        cut = -np.partition(-picked, limit - 1)[limit - 1]  # the limit-th best score
        keep = picked >= cut  # every point tied at the cut stays in the running
        candidates, picked = candidates[keep], picked[keep]
    ranked = sorted(zip(candidates.tolist(), picked.tolist()), key=lambda c: (-c[1], entry.ids[c[0]]))[:limit]
    return [(entry.ids[row], score) for row, score in ranked]
