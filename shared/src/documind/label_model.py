"""The supervised label classifier: one-vs-rest logistic regression (scikit-learn) on
document embeddings, trained from (text, labels) pairs, one model per tenant.

Shared, not in the embed service: the embed service scores with it, while the CLI (and later
the validate service, with its confirmed labels) trains it.

Today the pairs come from a labelled JSONL file (``documind labels train FILE``); the validate
service's confirmed labels are meant to feed :func:`train_from_pairs` the same way. A model is
stored in Postgres as its float32 weights (``label_classifiers``): a few kilobytes per tenant,
written in one transaction, backed up with the taxonomy it belongs to, readable by every embed
worker without a shared file system, and loading it runs no code (unlike a pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from sqlalchemy import select

from documind.db.engine import transaction
from documind.db.models import LabelClassifier, utcnow
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


def save_model(sessions: Any, tenant: str, model: LinearModel, report: TrainReport) -> None:
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
        row.report = report.as_dict()
        row.trained_at = utcnow()


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
    with transaction(sessions) as s:
        row = s.get(LabelClassifier, tenant)
        if row is None:
            return False
        s.delete(row)
        return True


def train_from_pairs(
    sessions: Any, encoder: Any, tenant: str, pairs: Iterable[tuple[str, Sequence[str]]], *,
    min_examples: int = 5, known_labels: Sequence[str] | None = None,
) -> TrainReport:
    """Train and store the tenant's model from (text, labels) pairs: the entry point for any
    source of labelled examples (a file today; the validate service's confirmed labels).
    Each text is embedded whole, as one vector (the model reads its first window of word
    pieces); a document is later scored on the mean of its chunk vectors. With
    ``known_labels`` a label outside the taxonomy is an error (a typo would train a label
    no document can be given)."""
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
    save_model(sessions, tenant, model, report)
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
