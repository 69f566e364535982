"""text_quality.assess: which PDF text layers are junk worth re-OCRing."""

from __future__ import annotations

import pytest

from documind_ingest.text_quality import assess

ENGLISH = ("In March 2023, the White House issued the National Cybersecurity Strategy to coordinate "
           "efforts to secure the digital ecosystem for all Americans. ") * 3


@pytest.mark.parametrize(
    "text",
    [
        ENGLISH,
        "할인점·주유·온라인쇼핑몰 1.5% 빅포인트 적립 업종 적립 대상 할인점 이마트, 이마트 트레이더스, 롯데마트 " * 3,
        "סלבה היקר, אני חושב שזה לא יהיה מקצועי והוגן שאני אראה לך היכן נפלה טעות בבדיקה " * 3,
        "Grüße aus Köln: die Straße ist schön und das Wetter ist heute wunderbar, sagte François. " * 3,
    ],
)
def test_real_text_in_any_script_is_kept(text: str) -> None:
    assert not assess(text).is_garbage


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("~#@ %^&* ]]{ |\\ ;; 0x9 ## ^^ %% ~~ <> ++ == -- __ ** && @@ !! ?? // " * 5, "letters"),
        ("Th\ufffd \ufffd\ufffdport \ufffd\ufffd\ufffd the \ufffd\ufffdst " * 10, "replacement"),
        ("(cid:72)(cid:101)(cid:108)(cid:108)(cid:111) (cid:87)(cid:111)(cid:114) " * 10, "replacement"),
        ("tHx qZrtpl vvKxq bRdfGh kLmNx zzXq wRtY pQzx tHrKk xVbn " * 5, "words"),
    ],
)
def test_junk_layers_are_garbage(text: str, why: str) -> None:
    q = assess(text)
    assert q.is_garbage, q
    if why == "letters":
        assert q.letter_ratio < 0.5
    elif why == "replacement":
        assert q.replacement_ratio > 0.05
    else:
        assert q.word_shape_ratio is not None and q.word_shape_ratio < 0.5


def test_noisy_but_readable_ocr_layer_is_kept() -> None:
    # From the corpus's pdf-with-ocr-text.pdf: some junk, mostly words; OCR again would not help.
    text = ("Desiring to keep you posted on the progress of the Foundation you will be interested to "
            "know that to date the Foundation has received the following: (a) A letter from the "
            "«POAH «3E*»CM tanntxim. inc. toi n»Bfl. ") * 2
    assert not assess(text).is_garbage


def test_empty_text_is_left_to_the_per_page_minimum() -> None:
    assert not assess("  \n ").is_garbage
