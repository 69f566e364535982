"""The supervised label classifier: one-vs-rest logistic regression (scikit-learn) on
document embeddings, trained from (text, labels) pairs, one model per tenant.

Shared, not in the embed service: the embed service scores with it, while the CLI (and later
the validate service, with its confirmed labels) trains it.

Today the pairs come from a labelled JSONL file (``documind labels train FILE``); the validate
service's confirmed labels are meant to feed :func:`train_from_pairs` the same way. A model is
stored in Postgres as its float32 weights (``label_classifiers``): a few kilobytes per tenant,
written in one transaction, backed up with the taxonomy it belongs to, readable by every embed
worker without a shared file system, and loading it runs no code (unlike a pickle).

A model belongs to the embedding model whose vectors it was trained on. So the examples of
every training are stored with it (``label_training_examples``: text, labels, source), in the
same transaction, and :func:`retrain` rebuilds the model from them in another model's space:
the embed service does that on ``embed.retrain_classifier``, which ``documind model activate``
(and ``rollback``) sends for every tenant whose model is of another embedding model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from sqlalchemy import select

from documind.db.engine import transaction
from documind.db.models import LabelClassifier, LabelTrainingExample, utcnow
from documind.taxonomy import TaxonomyError


@dataclass(frozen=True)
class LinearModel:
    """A trained one-vs-rest logistic regression: score_l = sigmoid(w_l . x + b_l)."""

    labels: tuple[str, ...]
    weights: np.ndarray  # len(labels) x dimension
    bias: np.ndarray  # len(labels)
    embedding_model: str = ""

    def scores(self, x: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(x) @ self.weights.T + self.bias
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class TrainReport:
    examples: int
    labels: dict[str, int]  # label -> positive examples, for the labels the model learned
    skipped: dict[str, int]  # label -> positive examples, too few (or on every example) to learn
    train_accuracy: float  # share of examples whose best-scoring label is one of theirs

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples, "labels": self.labels, "skipped": self.skipped,
            "train_accuracy": round(self.train_accuracy, 4),
        }


def fit_linear(
    vectors: np.ndarray, label_sets: Sequence[Sequence[str]], *, min_examples: int = 5, c: float = 10.0,
    embedding_model: str = "",
) -> tuple[LinearModel, TrainReport]:
    """One binary logistic regression per label with at least ``min_examples`` positive and
    one negative example. ``c`` is the inverse regularisation strength: the features are
    unit vectors whose coordinates are small, so the default (1.0) underfits them."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(vectors, dtype=np.float32)
    if len(x) != len(label_sets):
        raise ValueError(f"{len(x)} vectors but {len(label_sets)} label sets")
    counts: dict[str, int] = {}
    for labels in label_sets:
        for name in set(labels):
            counts[name] = counts.get(name, 0) + 1
    learnable = sorted(n for n, k in counts.items() if k >= min_examples and k < len(x))
    skipped = {n: k for n, k in sorted(counts.items()) if n not in learnable}
    if not learnable:
        raise TaxonomyError(
            f"no label has {min_examples} or more examples (and at least one example without it) "
            f"among {len(x)}: nothing to train (counts: {dict(sorted(counts.items())) or 'none'})"
        )
    weights, bias = [], []
    for name in learnable:
        y = np.array([name in labels for labels in label_sets], dtype=int)
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        clf.fit(x, y)
        weights.append(clf.coef_[0])
        bias.append(clf.intercept_[0])
    model = LinearModel(
        tuple(learnable), np.asarray(weights, dtype=np.float32), np.asarray(bias, dtype=np.float32), embedding_model
    )
    best = model.scores(x).argmax(axis=1)
    hits = sum(learnable[b] in labels for b, labels in zip(best, label_sets))
    report = TrainReport(len(x), {n: counts[n] for n in learnable}, skipped, hits / len(x))
    return model, report


@dataclass(frozen=True)
class Example:
    text: str
    labels: list[str]
    source: str  # where it came from: "file:<name>", "validated", ...


def save_model(
    sessions: Any, tenant: str, model: LinearModel, report: TrainReport, *, min_examples: int,
    examples: Sequence[Example] | None = None,
) -> None:
    """Store the model; with ``examples``, replace the tenant's stored training examples in
    the same transaction (the model and what it was trained on never disagree)."""
    with transaction(sessions) as s:
        row = s.get(LabelClassifier, tenant, with_for_update=True)
        if row is None:
            row = LabelClassifier(tenant=tenant)
            s.add(row)
        row.embedding_model = model.embedding_model
        row.labels = list(model.labels)
        row.weights = model.weights.astype(np.float32).tobytes()
        row.bias = model.bias.astype(np.float32).tobytes()
        row.examples = report.examples
        row.report = {**report.as_dict(), "min_examples": min_examples}
        row.trained_at = utcnow()
        if examples is not None:
            s.execute(LabelTrainingExample.__table__.delete().where(LabelTrainingExample.tenant == tenant))
            now = utcnow()
            s.add_all(
                LabelTrainingExample(tenant=tenant, text=e.text, labels=e.labels, source=e.source, created_at=now)
                for e in examples
            )


def stored_examples(sessions: Any, tenant: str) -> list[Example]:
    with sessions() as s:
        rows = s.scalars(
            select(LabelTrainingExample).where(LabelTrainingExample.tenant == tenant).order_by(LabelTrainingExample.id)
        ).all()
        return [Example(r.text, list(r.labels), r.source) for r in rows]


def load_model(sessions: Any, tenant: str, embedding_model: str) -> LinearModel | None:
    """The tenant's model, if it has one for this embedding model (a model trained on
    another encoder's vectors would read these as noise)."""
    with sessions() as s:
        row = s.scalar(
            select(LabelClassifier).where(
                LabelClassifier.tenant == tenant, LabelClassifier.embedding_model == embedding_model
            )
        )
        if row is None:
            return None
        n = len(row.labels)
        weights = np.frombuffer(row.weights, dtype=np.float32).reshape(n, -1)
        return LinearModel(tuple(row.labels), weights, np.frombuffer(row.bias, dtype=np.float32), row.embedding_model)


def delete_model(sessions: Any, tenant: str) -> bool:
    """The tenant's model and its stored examples (nothing to rebuild after an untrain)."""
    with transaction(sessions) as s:
        s.execute(LabelTrainingExample.__table__.delete().where(LabelTrainingExample.tenant == tenant))
        row = s.get(LabelClassifier, tenant)
        if row is None:
            return False
        s.delete(row)
        return True


def models_of_other_embeddings(sessions: Any, embedding_model: str) -> list[str]:
    """Tenants whose model was trained in another embedding model's space (after a swap)."""
    with sessions() as s:
        return list(s.scalars(
            select(LabelClassifier.tenant).where(LabelClassifier.embedding_model != embedding_model)
            .order_by(LabelClassifier.tenant)
        ))


def retrain(sessions: Any, encoder: Any, tenant: str, *, default_min_examples: int = 5) -> dict[str, Any]:
    """Rebuild the tenant's model from its stored examples in ``encoder``'s vector space, with
    the ``min_examples`` it was trained with. Idempotent: a model already of this embedding
    model is left as it is. Returns what happened (``result``: retrained | current | none)."""
    with sessions() as s:
        row = s.get(LabelClassifier, tenant)
        if row is None:
            return {"tenant": tenant, "result": "none", "reason": "the tenant has no supervised classifier"}
        if row.embedding_model == encoder.model_name:
            return {"tenant": tenant, "result": "current", "embedding_model": row.embedding_model}
        previous = row.embedding_model
        min_examples = int((row.report or {}).get("min_examples") or default_min_examples)
    examples = stored_examples(sessions, tenant)
    if not examples:
        # Trained before its examples were kept: it cannot be rebuilt, and stays unused.
        return {"tenant": tenant, "result": "none", "embedding_model": previous,
                "reason": "no stored training examples (trained by an older release): run documind labels train again"}
    vectors = encoder.encode([e.text for e in examples])
    model, report = fit_linear(
        vectors, [e.labels for e in examples], min_examples=min_examples, embedding_model=encoder.model_name
    )
    save_model(sessions, tenant, model, report, min_examples=min_examples)
    return {"tenant": tenant, "result": "retrained", "embedding_model": encoder.model_name,
            "previous_model": previous, **report.as_dict()}


def train_from_pairs(
    sessions: Any, encoder: Any, tenant: str, pairs: Iterable[tuple[str, Sequence[str]]], *,
    min_examples: int = 5, known_labels: Sequence[str] | None = None, source: str = "unspecified",
) -> TrainReport:
    """Train and store the tenant's model from (text, labels) pairs: the entry point for any
    source of labelled examples (a file today; the validate service's confirmed labels).
    Each text is embedded whole, as one vector (the model reads its first window of word
    pieces); a document is later scored on the mean of its chunk vectors. With
    ``known_labels`` a label outside the taxonomy is an error (a typo would train a label
    no document can be given). The examples are stored with the model, marked with ``source``,
    so it can be rebuilt after a model swap (:func:`retrain`). ``encoder`` should be the
    active model's: a model of another embedding model is not used."""
    texts: list[str] = []
    label_sets: list[list[str]] = []
    for text, labels in pairs:
        texts.append(text)
        label_sets.append(sorted({str(lb).strip() for lb in labels if str(lb).strip()}))
    if known_labels is not None:
        unknown = sorted({lb for ls in label_sets for lb in ls} - set(known_labels))
        if unknown:
            raise TaxonomyError(
                f"labels not in tenant {tenant!r}'s taxonomy: {', '.join(unknown)} (add them with documind labels add)"
            )
    vectors = encoder.encode(texts)
    model, report = fit_linear(vectors, label_sets, min_examples=min_examples, embedding_model=encoder.model_name)
    examples = [Example(t, ls, source) for t, ls in zip(texts, label_sets)]
    save_model(sessions, tenant, model, report, min_examples=min_examples, examples=examples)
    return report


def read_examples(path: Path) -> list[tuple[str, list[str]]]:
    """A JSONL file of ``{"text": str, "labels": [str, ...]}`` (``"label": str`` also read)."""
    examples: list[tuple[str, list[str]]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"cannot read {path}: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise TaxonomyError(f"{path}:{n}: expected an object with a non-empty \"text\"")
        labels = row.get("labels", row.get("label"))
        if isinstance(labels, str):
            labels = [labels]
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise TaxonomyError(f"{path}:{n}: \"labels\" must be a list of names")
        examples.append((row["text"], labels))
    if not examples:
        raise TaxonomyError(f"{path}: no examples in it")
    return examples
