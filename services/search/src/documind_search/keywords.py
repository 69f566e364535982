"""Keyword (BM25) vectors, computed on the client and stored as Qdrant sparse vectors.

Qdrant holds the inverse document frequency side (the ``bm25`` sparse vector is created with
``Modifier.IDF``, which multiplies each query term by ``ln((N - df + 0.5) / (df + 0.5) + 1)``
over the live points); this module supplies the term-frequency side:

- tokens: lowercase Unicode words of two or more characters (the pattern of scikit-learn and
  bm25s), minus the English stopword list of bm25s (Lucene's), Snowball-stemmed with PyStemmer
  — the tokenization behind the published BM25 SciFact figure;
- a chunk's weight for a term: BM25 tf saturation ``tf (k1 + 1) / (tf + k1 (1 - b + b len / avg))``
  with a fixed average length (a collection-wide average would change every stored vector
  whenever a document arrives);
- a query's weight for a term: its count in the query;
- term ids: the first four bytes of BLAKE2b of the stem — stable across processes, hosts and
  Python versions (Python's ``hash()`` is salted per process).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import runpy
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Bm25Params:
    """BM25 term-frequency saturation (``k1``), length normalisation (``b``) and the assumed
    average chunk length in tokens (after stopword removal)."""

    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 100.0

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0 <= self.b <= 1 or self.avg_len <= 0:
            raise ValueError(f"bad BM25 parameters: k1={self.k1} (>= 0), b={self.b} (0..1), avg_len={self.avg_len} (> 0)")


@dataclass(frozen=True)
class SparseTerms:
    """A sparse vector: term ids (sorted, unique) and their weights."""

    indices: list[int]
    values: list[float]

    def __bool__(self) -> bool:
        return bool(self.indices)


@lru_cache(maxsize=200_000)
def term_id(term: str) -> int:
    """Stable 32-bit id of a term (Qdrant sparse indices are unsigned 32-bit)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "big")


@lru_cache(maxsize=1)  # a file read and executed: once per process
def english_stopwords() -> frozenset[str]:
    """bm25s's English stopword list (the list the keyword index was built and measured with).

    Read from its module file without importing the ``bm25s`` package: the package's
    ``__init__`` imports numba (~0.5 CPU-s), which this list does not need, and every process
    that tokenizes (a search worker, each embedded ``documind search``) would pay it."""
    spec = importlib.util.find_spec("bm25s")  # locates the package without running its __init__
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("bm25s is not installed")
    return frozenset(runpy.run_path(str(Path(spec.origin).with_name("stopwords.py")))["STOPWORDS_EN"])


class Tokenizer:
    def __init__(self, stopwords: frozenset[str] | None = None, language: str = "english") -> None:
        import Stemmer  # PyStemmer: C Snowball stemmers

        self.stopwords = english_stopwords() if stopwords is None else stopwords
        self.language = language
        self._stemmer = Stemmer.Stemmer(language)
        # A PyStemmer object must not be used from two threads at once.
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.lower()) if w not in self.stopwords]
        with self._lock:
            return self._stemmer.stemWords(words)


_default: Tokenizer | None = None
_default_lock = threading.Lock()


def default_tokenizer() -> Tokenizer:
    global _default
    with _default_lock:
        if _default is None:
            _default = Tokenizer()
        return _default


def _sparse(weights: dict[int, float]) -> SparseTerms:
    ids = sorted(weights)
    return SparseTerms(ids, [float(weights[i]) for i in ids])


def _term_counts(tokens: list[str]) -> dict[int, float]:
    # Two stems sharing an id (a hash collision) simply add up.
    counts: dict[int, float] = {}
    for term, n in Counter(tokens).items():
        tid = term_id(term)
        counts[tid] = counts.get(tid, 0.0) + n
    return counts


def document_vector(text: str, params: Bm25Params, tokenizer: Tokenizer | None = None) -> SparseTerms:
    """BM25 term weights of one chunk (the IDF factor is Qdrant's)."""
    tokens = (tokenizer or default_tokenizer()).tokens(text)
    if not tokens:
        return SparseTerms([], [])
    norm = params.k1 * (1 - params.b + params.b * len(tokens) / params.avg_len)
    tf = _term_counts(tokens)
    return _sparse({t: n * (params.k1 + 1) / (n + norm) for t, n in tf.items()})


def query_vector(text: str, tokenizer: Tokenizer | None = None) -> SparseTerms:
    """Term counts of a query; empty when it has no searchable word (all stopwords)."""
    return _sparse(_term_counts((tokenizer or default_tokenizer()).tokens(text)))
