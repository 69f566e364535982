"""documind_search.keywords: tokenizer, BM25 weights, stable term ids, query vectors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from documind_search.keywords import Bm25Params, SparseTerms, Tokenizer, document_vector, query_vector, term_id


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer()


def test_tokens_lowercase_stem_and_drop_stopwords(tok: Tokenizer) -> None:
    assert tok.tokens("The Running of the CELLS is studied") == ["run", "cell", "studi"]


def test_tokens_keep_unicode_words_and_numbers_drop_single_characters(tok: Tokenizer) -> None:
    assert tok.tokens("Größe der Zelle: 42 µm, a b c") == ["größe", "der", "zell", "42", "µm"]


def test_stopword_only_text_has_no_tokens(tok: Tokenizer) -> None:
    assert tok.tokens("it is what it is, and that is that") == ["what"]
    assert tok.tokens("the of and") == []
    assert not query_vector("the of and", tok)


def test_stopwords_are_bm25s_list_read_without_importing_numba() -> None:
    # A fresh process: bm25s's package __init__ imports numba (~0.5 CPU-s), which a tokenizer
    # (built by every search worker and every embedded search) must not pay for.
    code = ("import sys; from documind_search.keywords import Tokenizer; t = Tokenizer(); "
            "assert 'numba' not in sys.modules and 'bm25s' not in sys.modules, 'imported'; "
            "from bm25s.stopwords import STOPWORDS_EN; assert t.stopwords == frozenset(STOPWORDS_EN)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_term_id_is_a_fixed_unsigned_32_bit_hash() -> None:
    # Pinned value: a change would silently break every stored keyword vector.
    assert term_id("cell") == int.from_bytes(__import__("hashlib").blake2b(b"cell", digest_size=4).digest(), "big")
    assert 0 <= term_id("zzz") < 2**32
    assert term_id("cell") != term_id("cells")


def test_term_id_is_stable_across_processes() -> None:
    # Python's hash() is salted per process; the term ids must not be.
    code = "from documind_search.keywords import term_id; print(term_id('mitochondria'))"
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                       env={"PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {str(term_id("mitochondria"))}


def test_bm25_weight_follows_the_formula(tok: Tokenizer) -> None:
    p = Bm25Params(k1=1.2, b=0.75, avg_len=4.0)
    vec = document_vector("cell cell membrane protein", p, tok)  # 4 tokens: length == average
    weights = dict(zip(vec.indices, vec.values))
    norm = 1.2 * (1 - 0.75 + 0.75 * 4 / 4.0)
    assert weights[term_id("cell")] == pytest.approx(2 * 2.2 / (2 + norm))
    assert weights[term_id("membran")] == pytest.approx(1 * 2.2 / (1 + norm))
    assert vec.indices == sorted(vec.indices)


def test_bm25_saturates_and_normalises_length(tok: Tokenizer) -> None:
    p = Bm25Params(k1=1.2, b=0.75, avg_len=10.0)
    one = dict(zip(*_iv(document_vector("virus", p, tok))))[term_id("virus")]
    many = dict(zip(*_iv(document_vector("virus " * 50, p, tok))))[term_id("virus")]
    assert many < p.k1 + 1  # saturation: never above k1 + 1
    short = dict(zip(*_iv(document_vector("virus host", p, tok))))[term_id("virus")]
    long = dict(zip(*_iv(document_vector("virus " + "host cell gene " * 10, p, tok))))[term_id("virus")]
    assert short > long  # the same count weighs less in a longer chunk
    assert one > 0


def test_b_zero_ignores_length(tok: Tokenizer) -> None:
    p = Bm25Params(k1=1.2, b=0.0, avg_len=10.0)
    short = dict(zip(*_iv(document_vector("virus host", p, tok))))[term_id("virus")]
    long = dict(zip(*_iv(document_vector("virus " + "host cell gene " * 10, p, tok))))[term_id("virus")]
    assert short == pytest.approx(long)


def test_query_vector_counts_terms(tok: Tokenizer) -> None:
    vec = query_vector("virus virus replication", tok)
    assert dict(zip(vec.indices, vec.values)) == {term_id("virus"): 2.0, term_id("replic"): 1.0}


@pytest.mark.parametrize("bad", [dict(k1=-1), dict(b=1.5), dict(avg_len=0)])
def test_bad_parameters_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match="bad BM25 parameters"):
        Bm25Params(**bad)


def _iv(v: SparseTerms) -> tuple[list[int], list[float]]:
    return v.indices, v.values
