"""Classifying one document into its tenant's taxonomy, from the chunk vectors it already has.

Pure: no database, no model loading. The caller passes the taxonomy with its label vectors
(the label descriptions embedded by the same encoder as the chunks) and, when the tenant has
one, its supervised model.

Zero-shot: the document vector is the normalised mean of its chunk vectors (the bench measured
it against the best single chunk, see bench/classification.py); its cosine with each label
vector becomes a probability by a softmax with a temperature, over the labels plus one "no
label fits" option at a fixed cosine (``null_similarity``). Without that option a one-label
taxonomy would give every document its label with score 1.0, and a document about nothing in
the taxonomy would still share 1.0 out among the labels.

Supervised: one-vs-rest logistic regression on the same document vector; each label's score
is its own sigmoid probability (several labels may apply at once).

Either way a label is kept when its score reaches ``min_score``, best first, at most
``max_labels``; ``margin`` is top1 - top2 of all label scores (top2 is 0 for a one-label
taxonomy), the classifier's confidence signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from documind.label_model import LinearModel
from documind.taxonomy import LabelDef as Label

Method = Literal["zero-shot", "supervised", "none"]
Aggregation = Literal["mean", "max"]


@dataclass(frozen=True)
class Taxonomy:
    tenant: str
    labels: tuple[Label, ...]
    vectors: np.ndarray  # len(labels) x dimension, unit length (may be 0 x dimension)
    version: str = ""

    @property
    def names(self) -> list[str]:
        return [lb.name for lb in self.labels]


@dataclass(frozen=True)
class Params:
    min_score: float = 0.3
    max_labels: int = 3
    temperature: float = 0.05
    null_similarity: float = 0.15
    aggregation: Aggregation = "mean"


@dataclass(frozen=True)
class LabelScore:
    name: str
    score: float


@dataclass(frozen=True)
class ChunkLabel:
    """A chunk's best label (whatever its score: it says what the chunk is closest to)."""

    idx: int
    name: str
    score: float


@dataclass(frozen=True)
class Classification:
    labels: list[LabelScore]  # kept: score >= min_score, best first, at most max_labels
    margin: float
    method: Method
    taxonomy_version: str
    chunks: list[ChunkLabel] = field(default_factory=list)
    note: str | None = None

    @property
    def names(self) -> list[str]:
        return [ls.name for ls in self.labels]

    def metadata(self) -> dict:
        """``documents.metadata["classification"]``."""
        data: dict = {
            "labels": [{"name": ls.name, "score": round(ls.score, 4)} for ls in self.labels],
            "margin": round(self.margin, 4),
            "method": self.method,
            "taxonomy_version": self.taxonomy_version,
        }
        if self.note:
            data["note"] = self.note
        return data


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n == 0, 1.0, n)


def document_vector(chunk_vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of the chunk vectors (each unit length already)."""
    return _unit(np.asarray(chunk_vectors, dtype=np.float32).mean(axis=0))


def zero_shot_probabilities(sims: np.ndarray, temperature: float, null_similarity: float) -> np.ndarray:
    """Softmax over (labels..., "none") of cosine / temperature; returns the labels' share.
    ``sims``: (..., labels)."""
    sims = np.atleast_2d(sims)
    null = np.full(sims.shape[:-1] + (1,), null_similarity, dtype=np.float64)
    logits = np.concatenate([sims.astype(np.float64), null], axis=-1) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=-1, keepdims=True)
    return p[..., :-1]


def _margin(scores: np.ndarray) -> float:
    if scores.size < 2:
        return float(scores[0]) if scores.size == 1 else 0.0
    top = np.sort(scores)[::-1]
    return float(top[0] - top[1])


def _keep(names: Sequence[str], scores: np.ndarray, params: Params) -> list[LabelScore]:
    order = np.argsort(-scores, kind="stable")
    kept = [LabelScore(names[i], float(scores[i])) for i in order if scores[i] >= params.min_score]
    return kept[: params.max_labels]


def classify(
    taxonomy: Taxonomy,
    chunk_texts: Sequence[str],
    chunk_vectors: np.ndarray,
    *,
    params: Params = Params(),
    model: LinearModel | None = None,
    chunk_indexes: Sequence[int] | None = None,
) -> Classification:
    """Labels of one document: ``chunk_vectors`` (chunks x dimension, unit length) in the
    order of ``chunk_texts``; ``chunk_indexes`` are the chunks' ``idx`` (default 0..n-1).
    ``model``, when given and covering some label of the taxonomy, is used instead of zero-shot.
    The texts are not needed by either method today; they are taken so a text-based signal
    can be added without changing every caller."""
    vectors = np.asarray(chunk_vectors, dtype=np.float32)
    idxs = list(chunk_indexes) if chunk_indexes is not None else list(range(len(vectors)))
    if len(chunk_texts) != len(vectors) or len(idxs) != len(vectors):
        raise ValueError(f"{len(chunk_texts)} texts, {len(vectors)} vectors, {len(idxs)} indexes: they must match")
    if not taxonomy.labels:
        return Classification([], 0.0, "none", taxonomy.version, note="the tenant has no taxonomy: no labels given")
    if len(vectors) == 0:
        return Classification([], 0.0, "none", taxonomy.version, note="the document has no embedded chunks")
    names = taxonomy.names
    doc = document_vector(vectors)
    usable = _usable_model(model, names)
    if usable is not None:
        cols = [usable.labels.index(n) for n in names if n in usable.labels]
        model_names = [usable.labels[c] for c in cols]
        scores = usable.scores(doc)[0][cols]
        chunk_scores = usable.scores(vectors)[:, cols]
        return Classification(
            _keep(model_names, scores, params), _margin(scores), "supervised", taxonomy.version,
            _chunk_labels(idxs, model_names, chunk_scores),
        )
    chunk_sims = vectors @ taxonomy.vectors.T  # chunks x labels
    if params.aggregation == "max":
        sims = chunk_sims.max(axis=0)
    else:
        sims = taxonomy.vectors @ doc
    scores = zero_shot_probabilities(sims, params.temperature, params.null_similarity)[0]
    chunk_scores = zero_shot_probabilities(chunk_sims, params.temperature, params.null_similarity)
    return Classification(
        _keep(names, scores, params), _margin(scores), "zero-shot", taxonomy.version,
        _chunk_labels(idxs, names, chunk_scores),
    )


def _usable_model(model: LinearModel | None, names: Sequence[str]) -> LinearModel | None:
    """The model, if it knows any label the taxonomy still has (labels removed since training
    are never given; labels added since are only reachable by zero-shot until retrained)."""
    if model is None or not set(model.labels) & set(names):
        return None
    return model


def _chunk_labels(idxs: Sequence[int], names: Sequence[str], scores: np.ndarray) -> list[ChunkLabel]:
    best = scores.argmax(axis=1)
    return [ChunkLabel(int(i), names[int(b)], float(scores[row, b])) for row, (i, b) in enumerate(zip(idxs, best))]
