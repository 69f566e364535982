"""The fast plain-text / PDF-page splitter: titles, paragraphs and list items by layout rules."""

from __future__ import annotations

from collections import Counter

import pytest

from documind_ingest.fast_text import (
    LIST_ITEM,
    NARRATIVE,
    TITLE,
    looks_like_title,
    split_page_lines,
    split_plain_text,
)
from tests.conftest import require_real_corpus

BOOK = """CHAPTER I

"Well, Prince, so Genoa and Lucca are now just family estates of the
Buonapartes. But I warn you, if you don't tell me that this means war,
I will have nothing more to do with you."

It was in July, 1805, and the speaker was the well-known Anna Pavlovna
Scherer.



BOOK TWO: 1805

- first thing
- second thing
"""


@pytest.mark.parametrize("line", ["CHAPTER I", "BOOK ONE: 1805", "Emissaries", "3 Results and Discussion", "The Layout Parser Toolkit"])
def test_headings_are_titles(line: str) -> None:
    assert looks_like_title(line)


@pytest.mark.parametrize(
    "line",
    ["It was in July, 1805, and the speaker was Anna.", "whispered the prince", "42", "", "x" * 100,
     "Scherer.", "this is a lower case fragment of a sentence that wraps"],
)
def test_sentences_and_numbers_are_not_titles(line: str) -> None:
    assert not looks_like_title(line)


def test_plain_text_paragraphs_titles_and_lists() -> None:
    blocks = split_plain_text(BOOK)
    assert [(b.kind, b.text[:20]) for b in blocks] == [
        (TITLE, "CHAPTER I"),
        (NARRATIVE, '"Well, Prince, so Ge'),
        (NARRATIVE, "It was in July, 1805"),
        (TITLE, "BOOK TWO: 1805"),
        (LIST_ITEM, "first thing"),
        (LIST_ITEM, "second thing"),
    ]
    # Hard-wrapped lines are joined into one paragraph, with single spaces.
    assert blocks[1].text.startswith('"Well, Prince, so Genoa and Lucca are now just family estates of the Buonapartes.')
    assert "\n" not in blocks[1].text


@pytest.mark.parametrize("source", ["made", "real"])
def test_every_word_survives_the_splitter(made_corpus, source: str) -> None:
    """On a generated 2 MB book, and on a real one (its own typography) where the corpus is."""
    if source == "made":
        path = made_corpus / "book-2mb.txt"
    else:
        path = require_real_corpus() / "book-war-and-peace-1225p.txt"
    text = path.read_text()
    blocks = split_plain_text(text)
    source_words, kept = Counter(text.split()), Counter(" ".join(b.text for b in blocks).split())
    assert not kept - source_words  # nothing invented
    # Only list markers ("-", "1.", "a)") dropped from list items may be missing.
    missing = source_words - kept
    assert all(len(w.rstrip(".)")) <= 3 and (not w[0].isalpha() or len(w) <= 2) for w in missing), missing
    assert sum(missing.values()) < 0.001 * sum(source_words.values())
    titles = [b.text for b in blocks if b.kind == TITLE]
    assert titles[:3] == ["CHAPTER I", "CHAPTER II", "CHAPTER III"]
    assert sum(t.startswith("CHAPTER") for t in titles) >= 300


def test_pdf_page_lines_make_paragraphs_and_titles_with_page_numbers() -> None:
    page = (
        "prey their drakes bring back. She then returns to her lair to lay her eggs and will not appear in\r\n"
        "another century. \r\n"
        "Genlock \r\n"
        "These are the most common darkspawn in the underground. Stocky and tough, genlocks are\r\n"
        "notoriously difficult to kill, even by magic. \r\n"
        "Alphas \r\n"
        "In any group of genlocks, there is usually one who is dominant. As the tallest, strongest, and\r\n"
    )
    blocks = split_page_lines(page, 11)
    assert [b.kind for b in blocks] == [NARRATIVE, TITLE, NARRATIVE, TITLE, NARRATIVE]
    assert blocks[1].text == "Genlock" and blocks[3].text == "Alphas"
    assert blocks[2].text.endswith("even by magic.")
    assert {b.page for b in blocks} == {11}


def test_empty_page_has_no_blocks() -> None:
    assert split_page_lines(" \r\n \r\n", 3) == []
    assert split_plain_text("\n\n  \n") == []
