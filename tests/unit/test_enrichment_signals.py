"""Entities, sentiment and quality on real corpus text (and the bad inputs a chunk can hold)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from documind.contracts import SearchOptions
from documind.entity_keys import InvalidEntityFilter, entity_key, parse_entity_filter

from documind_embed.enrichment import ChunkEnricher, ChunkText
from documind_embed.entities import EntityExtractor, load_spacy
from documind_embed.quality import (
    MARGIN_FLOOR, WordList, assess, combine, document_assessment, junk_signal, margin_signal,
)
from documind_embed.sentiment import SentimentAnalyzer, document_sentiment, load_vader


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor(load_spacy(), "US")


@pytest.fixture(scope="module")
def enricher(extractor: EntityExtractor) -> ChunkEnricher:
    return ChunkEnricher(extractor, SentimentAnalyzer(load_vader()), WordList(), max_tokens=256)


def corpus_text(corpus: Path, name: str) -> str:
    path = corpus / name
    if not path.is_file():
        pytest.skip(f"{name} not in the corpus")
    return path.read_text(encoding="utf-8", errors="replace")


def paragraph(text: str, needle: str, width: int = 900, before: int = 0) -> str:
    at = text.index(needle)
    return text[max(0, at - before) : at + width]


def keys(entities) -> set[str]:  # noqa: ANN001
    return {entity_key(e.type, e.value) for e in entities}


# ---- entities ------------------------------------------------------------------------------
def test_named_entities_with_offsets_in_a_biography(real_corpus: Path, extractor: EntityExtractor) -> None:
    text = paragraph(corpus_text(real_corpus, "norwich-city.txt"), "Iwan Wyn Roberts (born 26 June 1968)")
    found = extractor.extract(text)
    for e in found:
        assert text[e.start : e.end] == e.text  # offsets point at the words as written
    got = keys(found)
    assert "PERSON:iwan wyn roberts" in got
    assert "DATE:26 june 1968" in got
    assert "PLACE:wales" in got
    assert any(k.startswith("ORG:") and "watford" in k for k in got) or "PLACE:watford" in got


def test_urls_in_a_biography(real_corpus: Path, extractor: EntityExtractor) -> None:
    full = corpus_text(real_corpus, "norwich-city.txt")
    line = next(l for l in full.splitlines() if "(https://www.rsssf.org/tablese/engtops.html)" in l)
    urls = [e for e in extractor.extract(line) if e.type == "URL"]
    assert [u.value for u in urls] == ["https://www.rsssf.org/tablese/engtops.html"]  # without the brackets


def ten_k_text(corpus: Path) -> str:
    """The 10-K filing's text (tags out, entities decoded: the test is about the extractors)."""
    import html

    raw = corpus_text(corpus, "example-10k.html")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def test_money_dates_orgs_and_phone_in_a_10k_filing(real_corpus: Path, extractor: EntityExtractor) -> None:
    text = ten_k_text(real_corpus)
    loan = paragraph(text, "the Company borrowed $4 million from Zions", 200, before=60)
    got = keys(extractor.extract(loan))
    assert "MONEY:$4 million" in got and "DATE:october 26, 2020" in got
    assert any(k.startswith("ORG:zions bancorporation") for k in got)
    agent = paragraph(text, "Our stock transfer agent and registrar", 230)
    found = extractor.extract(agent)
    phones = [e for e in found if e.type == "PHONE"]
    assert [(e.value, e.text) for e in phones] == [("+14844163124", "(484) 416-3124")]
    assert agent[phones[0].start : phones[0].end] == "(484) 416-3124"
    assert not [e for e in found if e.type != "PHONE" and e.start < phones[0].end and phones[0].start < e.end]


def test_email_addresses_validated_and_normalized(real_corpus: Path, extractor: EntityExtractor) -> None:
    text = corpus_text(real_corpus, "fake-email.txt")[:600]
    emails = [e for e in extractor.extract(text) if e.type == "EMAIL"]
    # The From/To address, normalized; (the Message-ID header is address-shaped too, and found.)
    assert "mrobinson@unstructured.io" in {e.value for e in emails}
    assert all(text[e.start : e.end] == e.text for e in emails)


def test_iban_grouped_and_compact_checked_by_checksum(extractor: EntityExtractor) -> None:
    # The IBAN registry's published example (no corpus document holds an IBAN).
    text = "Pay to GB82 WEST 1234 5698 7654 32 or DE89370400440532013000 by Friday; not GB82 WEST 1234 5698 7654 33."
    ibans = [e for e in extractor.extract(text) if e.type == "IBAN"]
    assert [e.value for e in ibans] == ["gb82west12345698765432", "de89370400440532013000"]
    assert text[ibans[0].start : ibans[0].end] == "GB82 WEST 1234 5698 7654 32"


def test_invalid_email_and_phone_are_not_entities(extractor: EntityExtractor) -> None:
    found = extractor.extract("Write to someone@@example or call 555-0000 today.")
    assert not [e for e in found if e.type in ("EMAIL", "PHONE")]


# ---- filter keys ---------------------------------------------------------------------------
def test_entity_filter_normal_form() -> None:
    assert parse_entity_filter("person:Iwan  Wyn ROBERTS") == "PERSON:iwan wyn roberts"
    assert SearchOptions(tenant="t", entities=["EMAIL:MRobinson@unstructured.io"]).entities == [
        "EMAIL:mrobinson@unstructured.io"
    ]
    for bad in ("Iwan Roberts", "COLOUR:red", "PERSON:  "):
        with pytest.raises(InvalidEntityFilter):
            parse_entity_filter(bad)
    with pytest.raises(ValueError):
        SearchOptions(tenant="t", entities=["nope"])


# ---- sentiment -----------------------------------------------------------------------------
def test_sentiment_of_real_sentences(real_corpus: Path) -> None:
    vader = SentimentAnalyzer(load_vader())
    text = corpus_text(real_corpus, "norwich-city.txt")
    assert vader.score(paragraph(text, "The team won the title and were promoted", 60)).label == "positive"
    assert vader.score(paragraph(text, "But I never got a response from the club", 75)).label == "negative"
    # A known weakness (README): "weak" outweighs the praise around it.
    assert vader.score(paragraph(text, "he overcame a weak start to become a fan favourite", 51)).compound < 0.3
    assert vader.score("").label == "neutral"
    doc = document_sentiment([(0.8, 100), (-0.2, 300)])
    assert doc.compound == pytest.approx((0.8 * 100 - 0.2 * 300) / 400, abs=1e-4)


# ---- quality and confidence ----------------------------------------------------------------
def test_clean_corpus_text_is_confident(real_corpus: Path, enricher: ChunkEnricher) -> None:
    text = paragraph(corpus_text(real_corpus, "norwich-city.txt"), "His footballing career started at Watford")
    [f] = enricher.enrich([ChunkText("c1", 0, text, 200)])
    assert f.assessment.confidence >= 0.8, f.assessment
    assert f.assessment.signals["dictionary"] > 0.85
    assert f.assessment.signals["language"] > 0.9


def test_noisy_ocr_layer_is_less_confident_than_clean_text(real_corpus: Path, enricher: ChunkEnricher) -> None:
    pdf = real_corpus / "pdf-with-ocr-text.pdf"
    if not pdf.is_file():
        pytest.skip("pdf-with-ocr-text.pdf not in the corpus")
    from pypdf import PdfReader

    noisy = PdfReader(str(pdf)).pages[0].extract_text()[:1500]
    clean = paragraph(corpus_text(real_corpus, "norwich-city.txt"), "His footballing career started at Watford")
    a, b = enricher.enrich([ChunkText("n", 0, noisy, 300), ChunkText("c", 1, clean, 200)])
    assert a.assessment.confidence < b.assessment.confidence


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "\ufffd\ufffd\ufffd\x00\x01\x02 \ufffd\ufffd", "xqzv brrk tlkp vvxq zzrt qwpm kkjh xcvb nmzq",
     "%$#@!^&*()_+" * 20, "\ue000\ue001\ue002 abc"],
)
def test_bad_chunk_text_gives_low_confidence_not_a_crash(enricher: ChunkEnricher, text: str) -> None:
    [f] = enricher.enrich([ChunkText("x", 0, text, 10)])
    assert 0.0 <= f.assessment.confidence < 0.8
    assert f.assessment.reasons


def test_confidence_formula() -> None:
    assert combine({"dictionary": 1.0, "junk": 1.0, "language": None, "truncation": 1.0}) == 1.0
    # weighted geometric mean: dictionary (w 2) at 0.5, junk (w 2) at 1 -> 0.5 ** (2/4)
    assert combine({"dictionary": 0.5, "junk": 1.0}) == pytest.approx(0.5 ** 0.5)
    assert combine({"dictionary": 0.0, "junk": 1.0}) == 0.0
    assert junk_signal("ab\ufffd\ufffd") == pytest.approx(0.5)
    assert assess("", [], lambda w: True, None, 0, 256).confidence == 0.0
    # truncation: a chunk twice the model's window
    assert assess("Hello there my friend", ["Hello", "there", "my", "friend"], lambda w: True, None, 512, 256).signals[
        "truncation"
    ] == 0.5


def test_document_confidence_folds_in_the_classifier_margin() -> None:
    chunks = [({"dictionary": 1.0, "junk": 1.0}, 1.0, 100), ({"dictionary": 0.5, "junk": 1.0}, 0.5, 100)]
    plain = document_assessment(chunks, None)
    assert plain.confidence == pytest.approx(0.75)
    certain = document_assessment(chunks, 0.5)
    unsure = document_assessment(chunks, 0.01)
    assert certain.confidence == pytest.approx(0.75 ** 0.75, abs=1e-4)  # margin signal 1.0
    assert unsure.confidence < plain.confidence
    assert any(r.startswith("classifier_margin=") for r in unsure.reasons)


def test_a_label_tie_lowers_the_document_confidence_without_zeroing_it() -> None:
    """Two top labels with the same score (margin 0) is uncertainty about the label, not bad
    text: the document keeps a confidence, lower than with a clear winner or no taxonomy."""
    chunks = [({"dictionary": 1.0, "junk": 1.0}, 0.9, 300), ({"dictionary": 0.9, "junk": 1.0}, 0.8, 100)]
    no_taxonomy = document_assessment(chunks, None)  # classifier_margin() gives None for method "none"
    tie = document_assessment(chunks, 0.0)
    clear = document_assessment(chunks, 0.35)
    assert no_taxonomy.confidence == pytest.approx(0.875)
    assert "classifier_margin" not in no_taxonomy.signals
    assert clear.confidence == pytest.approx(0.875 ** 0.75, abs=1e-4)  # margin signal 1
    assert tie.signals["classifier_margin"] == MARGIN_FLOOR
    assert tie.confidence == pytest.approx(0.875 ** 0.75 * MARGIN_FLOOR ** 0.25, abs=1e-4)
    assert 0 < tie.confidence < clear.confidence
    assert "classifier_margin=0.50" in tie.reasons
    # the shape: the floor at 0 (and below: a negative margin is clamped), linear up to 0.1, then flat
    assert margin_signal(-0.2) == margin_signal(0.0) == MARGIN_FLOOR
    assert margin_signal(0.05) == pytest.approx(MARGIN_FLOOR + (1 - MARGIN_FLOOR) / 2)
    assert margin_signal(0.1) == margin_signal(0.9) == 1.0
