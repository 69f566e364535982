"""documind_ingest.chunking with the real all-MiniLM-L6-v2 tokenizer: nothing leaves chunking
longer than the model's window, and no text is lost on the way."""

from __future__ import annotations

import base64
import random

import pytest

from documind.embedding import TokenCounter
from documind_ingest.chunking import ChunkDraft, chunk_elements, split_to_window

WINDOW = 256

VOCABULARY = (
    "the quick brown fox jumps over a lazy dog while committee members discuss quarterly "
    "revenue, tokenization (word-pieces), electroencephalography, naïve café résumé 2023-06-30 "
    "§4.2 e-mail addresses like someone@example.com and URLs https://example.org/a?b=c; "
    "unbelievably antidisestablishmentarianism internationalization Zürich Ελλάδα 東京"
).split()


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter("all-MiniLM-L6-v2")


def words(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCABULARY) for _ in range(n)]


def test_counter_counts_special_tokens(counter: TokenCounter) -> None:
    assert counter.count("") == 2
    assert counter.count("hello world") == 4
    assert counter.count_many(["hello world", "hello"]) == [4, 3]


def test_long_text_splits_within_window_and_keeps_every_word(counter: TokenCounter) -> None:
    source = words(3000)
    text = " ".join(source)
    assert counter.count(text) > 4 * WINDOW
    pieces = split_to_window(text, WINDOW, counter.count_many)
    assert len(pieces) > 4
    counts = counter.count_many(pieces)
    assert max(counts) <= WINDOW
    assert " ".join(pieces).split() == source
    # Greedy: pieces are reasonably full, not one word each.
    assert len(pieces) <= 2 * (counter.count(text) // (WINDOW - 2) + 1)


def test_whitespace_is_normalised_but_words_survive(counter: TokenCounter) -> None:
    source = words(1500, seed=3)
    text = "\n\n".join(" \t".join(source[i : i + 10]) for i in range(0, len(source), 10))
    pieces = split_to_window(text, WINDOW, counter.count_many)
    assert max(counter.count_many(pieces)) <= WINDOW
    assert " ".join(pieces).split() == source


def test_text_under_the_window_stays_one_piece(counter: TokenCounter) -> None:
    text = "  A short paragraph,\n with its  own   spacing.  "
    assert split_to_window(text, WINDOW, counter.count_many) == [text]


def test_text_exactly_at_the_window_stays_one_piece(counter: TokenCounter) -> None:
    text = " ".join(["dog"] * (WINDOW - 2))
    assert counter.count(text) == WINDOW
    assert split_to_window(text, WINDOW, counter.count_many) == [text]
    longer = text + " dog"
    pieces = split_to_window(longer, WINDOW, counter.count_many)
    assert len(pieces) == 2
    assert max(counter.count_many(pieces)) <= WINDOW


def _base64_word() -> str:
    return base64.b64encode(random.Random(1).randbytes(3750)).decode()


@pytest.mark.parametrize(
    "word",
    [
        pytest.param("a." * 2500, id="uniform-punctuated"),
        pytest.param("x" * 5000, id="one-unknown-token"),
        pytest.param(
            "-".join(["abcdefgh"] * 600)[:5000],
            id="hyphenated",
        ),
        pytest.param(
            _base64_word(),
            id="base64-blob",
        ),
    ],
)
def test_absurd_word_is_hard_cut_within_the_window(counter: TokenCounter, word: str) -> None:
    assert len(word) == 5000
    text = f"before {word} after"
    pieces = split_to_window(text, WINDOW, counter.count_many)
    assert max(counter.count_many(pieces)) <= WINDOW
    # Nothing lost: the characters of the word are all there, in order.
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert pieces[0].startswith("before") and pieces[-1].endswith("after")


# ---- chunk_elements ---------------------------------------------------------------------


def _document_text() -> str:
    rng = random.Random(11)
    sections = []
    for i in range(6):
        paragraphs = []
        for _ in range(rng.randint(2, 4)):
            sentence_count = rng.randint(3, 25)
            paragraphs.append(
                " ".join(" ".join(words(rng.randint(6, 18), seed=rng.random())) + "." for _ in range(sentence_count))
            )
        sections.append(f"SECTION {i + 1}: FINDINGS\n\n" + "\n\n".join(paragraphs))
    # A NUL as found in text layers of some PDFs.
    return "\n\n".join(sections).replace("quarterly", "quarter\x00ly", 3)


@pytest.fixture(scope="module")
def elements() -> list:
    from unstructured.partition.text import partition_text

    els = partition_text(text=_document_text())
    assert len(els) > 10
    return els


@pytest.mark.parametrize("max_chars", [1000, 6000])
def test_chunk_elements_respects_the_window(counter: TokenCounter, elements: list, max_chars: int) -> None:
    drafts = chunk_elements(elements, counter, max_chars=max_chars, overlap_chars=0, max_tokens=WINDOW)
    assert drafts
    assert all(isinstance(d, ChunkDraft) for d in drafts)
    for d in drafts:
        assert d.text.strip() == d.text and d.text
        assert d.token_count <= WINDOW
        assert d.token_count == counter.count(d.text)
        assert "\x00" not in d.text
        assert d.element_types
        assert all(isinstance(t, str) for t in d.element_types)
    # No words lost between the elements and the chunks.
    element_words = " ".join(e.text.replace("\x00", "") for e in elements).split()
    chunk_words = " ".join(d.text for d in drafts).split()
    assert chunk_words == element_words


def test_chunk_elements_splits_oversized_chunks(counter: TokenCounter, elements: list) -> None:
    # With a 6000-character chunk limit the structural chunks exceed 256 word pieces, so the
    # window split must run; with the 1000-character limit fewer, fuller chunks are not possible.
    big = chunk_elements(elements, counter, max_chars=6000, overlap_chars=0, max_tokens=WINDOW)
    assert max(d.token_count for d in big) > WINDOW // 2
    tiny_window = chunk_elements(elements, counter, max_chars=6000, overlap_chars=0, max_tokens=64)
    assert len(tiny_window) > len(big)
    assert max(d.token_count for d in tiny_window) <= 64


def test_chunk_elements_of_nothing(counter: TokenCounter) -> None:
    assert chunk_elements([], counter, max_chars=1000, overlap_chars=0, max_tokens=WINDOW) == []


def test_chunk_elements_with_an_embedded_blob(counter: TokenCounter) -> None:
    from unstructured.partition.text import partition_text

    text = "Attachment follows.\n\n" + _base64_word() + "\n\nEnd of attachment."
    drafts = chunk_elements(partition_text(text=text), counter, max_chars=1000, overlap_chars=0, max_tokens=WINDOW)
    assert max(d.token_count for d in drafts) <= WINDOW


def test_window_split_overlaps_neighbouring_pieces(counter: TokenCounter) -> None:
    source = words(2000, seed=3)
    text = " ".join(source)
    pieces = split_to_window(text, WINDOW, counter.count_many, overlap_chars=120)
    assert max(counter.count_many(pieces)) <= WINDOW
    for before, after in zip(pieces, pieces[1:]):
        head = after.split()[:3]
        tail = before.split()
        # The next piece starts with words that ended the previous one...
        assert any(tail[i : i + 3] == head for i in range(len(tail) - 3, max(len(tail) - 40, -1), -1))
        # ...but no more than the overlap asked for.
        overlap = next(k for k in range(len(tail), 0, -1) if tail[-k:] == after.split()[:k])
        assert len(" ".join(tail[-overlap:])) <= 120
    # Without overlap the pieces are a partition of the words.
    plain = split_to_window(text, WINDOW, counter.count_many)
    assert " ".join(plain).split() == source


def test_chunks_overlap_when_the_setting_asks(counter: TokenCounter) -> None:
    from unstructured.documents.elements import ElementMetadata, NarrativeText, Title

    sentences = [f"Item {i:03d} describes the number {i * 7919} in some detail." for i in range(120)]
    elements = [Title(text="Overview", metadata=ElementMetadata(page_number=1))] + [
        NarrativeText(text=" ".join(sentences[i : i + 4]), metadata=ElementMetadata(page_number=1 + i // 40))
        for i in range(0, 120, 4)
    ]
    plain = chunk_elements(elements, counter, max_chars=500, overlap_chars=0, max_tokens=WINDOW)
    overlapped = chunk_elements(elements, counter, max_chars=500, overlap_chars=80, max_tokens=WINDOW)
    assert len(plain) > 3 and len(overlapped) >= len(plain)
    for before, after in zip(overlapped, overlapped[1:]):
        assert after.text[:40] in before.text or before.text[-40:] in after.text
    assert not any(b.text[-30:] in a.text for b, a in zip(plain, plain[1:]))
    assert overlapped[0].page_start == 1 and overlapped[-1].page_end == 3
    assert "Title" in overlapped[0].element_types
