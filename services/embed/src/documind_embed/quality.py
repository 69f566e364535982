"""Quality signals of a chunk's text and the confidence they give.

Each signal is a number in 0..1 where 1 is "nothing wrong seen", or None when the text is too
short to measure it:

- ``dictionary``: share of the chunk's alphabetic words (2+ letters) found in ``wordfreq``'s
  word list of the chunk's language (English when the language is unknown or not in wordfreq).
  OCR misreadings and broken font encodings make non-words ("tbe", "Rbn"); None without words.
- ``junk``: 1 minus the share of junk characters among the visible ones: U+FFFD, control,
  private-use, surrogate and unassigned code points (Unicode categories Cc, Co, Cs, Cn).
- ``symbols``: the share of visible characters that are letters or digits (any script),
  ``min(1, share / 0.6)``: prose and tables sit far above 0.6; runs of punctuation, box drawing
  and markup debris below it.
- ``language``: the language detector's (``langdetect``) probability for its best guess; mixed
  or mangled text spreads it out. None below 20 letters.
- ``truncation``: the share of the chunk the embedding model saw: ``min(1, max_tokens /
  token_count)``; below 1 the vector represents only the chunk's beginning.

Confidence is the weighted geometric mean of the signals that are present::

    confidence = prod(s_i ** w_i) ** (1 / sum(w_i))
    w: dictionary 2, junk 2, symbols 1, language 1, truncation 1

A geometric mean lets one bad signal pull the figure down (a chunk of junk characters is bad
however well its few words read), while the weights say which signals speak most directly of
readable text. Empty text has confidence 0. A document's confidence combines its chunks'
confidences (weighted by length) with the classifier's margin when classification left one
(``metadata["classification"]["margin"]``), weight 1 against the chunks' 3::

    margin_signal = MARGIN_FLOOR + (1 - MARGIN_FLOOR) * min(1, margin / MARGIN_FULL)
    MARGIN_FLOOR = 0.5, MARGIN_FULL = 0.1

A zero-shot label 0.1 ahead of the next is taken as certain (signal 1). A tie (margin 0) gives
the floor, not 0: in a geometric mean a 0 would zero the document's confidence however well
its text reads, while an unsure label says only that the document sits between two labels. At
the floor a tie costs a quarter power of 0.5 (x0.84): a document of flawless chunks drops to
0.84, still readable, but below any document whose label is clear.

Not a signal, and why: Tesseract's word confidences are not recorded (ingest reads Tesseract's
plain-text output, which carries none), so OCR'd text is judged by the same dictionary and
junk signals, which OCR errors lower; ingest records no extraction warnings per chunk either.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

WEIGHTS = {"dictionary": 2.0, "junk": 2.0, "symbols": 1.0, "language": 1.0, "truncation": 1.0}
SYMBOLS_FULL = 0.6  # letters and digits among visible characters at or above this count as full
CHUNKS_WEIGHT = 3.0  # the chunks' confidence against the classifier margin's weight of 1
MARGIN_FULL = 0.1  # a classifier margin this large counts as full certainty
# A tie between the two top labels is uncertainty about the label, not bad text: it lowers the
# document's confidence (x0.84 at weight 1 of 4) but never zeroes it (see module doc).
MARGIN_FLOOR = 0.5
REASON_BELOW = 0.8  # a signal under this is named among the reasons for a low confidence
MIN_WORDS = 1  # even one word says something: a lone non-word is as suspect as many
MIN_LETTERS = 20
LANGUAGE_SAMPLE_CHARS = 600
JUNK_CATEGORIES = {"Cc", "Co", "Cs", "Cn"}
ALLOWED_CONTROLS = {"\n", "\r", "\t", "\f", "\v"}

_langdetect_lock = threading.Lock()


@dataclass(frozen=True)
class Assessment:
    signals: dict[str, float | None]
    confidence: float
    reasons: list[str]


def junk_signal(text: str) -> float | None:
    visible = [c for c in text if not c.isspace() or (unicodedata.category(c) == "Cc" and c not in ALLOWED_CONTROLS)]
    if not visible:
        return None
    junk = sum(1 for c in visible if c == "\ufffd" or unicodedata.category(c) in JUNK_CATEGORIES and c not in ALLOWED_CONTROLS)
    return 1.0 - junk / len(visible)


def symbols_signal(text: str) -> float | None:
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return None
    alnum = sum(1 for c in visible if unicodedata.category(c)[0] in "LN")
    return min(1.0, alnum / len(visible) / SYMBOLS_FULL)


def dictionary_signal(words: Iterable[str], known: Callable[[str], bool]) -> float | None:
    candidates = [w for w in words if len(w) >= 2 and w.isalpha()]
    if len(candidates) < MIN_WORDS:
        return None
    return sum(1 for w in candidates if known(w)) / len(candidates)


def truncation_signal(token_count: int | None, max_tokens: int | None) -> float:
    if not token_count or not max_tokens or token_count <= max_tokens:
        return 1.0
    return max_tokens / token_count


def detect_language(text: str) -> tuple[str | None, float | None]:
    """(ISO 639-1 code, probability) of the best guess, or (None, None) for too few letters.
    langdetect samples at random: seeded, under a lock (its factory is global)."""
    sample = " ".join(text[:LANGUAGE_SAMPLE_CHARS].split())
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return None, None
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    with _langdetect_lock:
        DetectorFactory.seed = 0
        try:
            best = detect_langs(sample)[0]
        except LangDetectException:
            return None, 0.0
    return best.lang, float(best.prob)


def combine(signals: dict[str, float | None], weights: dict[str, float] = WEIGHTS) -> float:
    """Weighted geometric mean of the present signals (1.0 when none is present)."""
    present = [(signals[k], w) for k, w in weights.items() if signals.get(k) is not None]
    if not present:
        return 1.0
    if any(s <= 0 for s, _ in present):  # type: ignore[operator]
        return 0.0
    total = sum(w for _, w in present)
    return math.exp(sum(w * math.log(s) for s, w in present) / total)  # type: ignore[arg-type]


def reasons_for(signals: dict[str, float | None]) -> list[str]:
    return [f"{k}={v:.2f}" for k, v in signals.items() if v is not None and k in WEIGHTS and v < REASON_BELOW]


def assess(
    text: str, words: Sequence[str], known: Callable[[str], bool], language_prob: float | None,
    token_count: int | None, max_tokens: int | None,
) -> Assessment:
    if not (text or "").strip():
        return Assessment({k: None for k in WEIGHTS}, 0.0, ["empty"])
    signals: dict[str, float | None] = {
        "dictionary": dictionary_signal(words, known),
        "junk": junk_signal(text),
        "symbols": symbols_signal(text),
        "language": language_prob,
        "truncation": truncation_signal(token_count, max_tokens),
    }
    return Assessment(
        {k: None if v is None else round(v, 4) for k, v in signals.items()},
        round(combine(signals), 4),
        reasons_for(signals),
    )


def margin_signal(margin: float) -> float:
    """The classifier margin (top1 - top2 score) as a signal in MARGIN_FLOOR..1."""
    return MARGIN_FLOOR + (1.0 - MARGIN_FLOOR) * min(1.0, max(0.0, margin) / MARGIN_FULL)


def document_assessment(
    chunks: Sequence[tuple[dict[str, float | None], float, int]], margin: float | None
) -> Assessment:
    """From (signals, confidence, length in chars) per chunk: each signal's and the
    confidence's length-weighted mean, then the classifier margin folded in (see module doc)."""
    total = sum(max(n, 1) for _, _, n in chunks)
    if not chunks:
        return Assessment({}, 0.0, ["no chunks"])
    mean_conf = sum(c * max(n, 1) for _, c, n in chunks) / total
    signals: dict[str, float | None] = {}
    for key in WEIGHTS:
        present = [(s[key], max(n, 1)) for s, _, n in chunks if s.get(key) is not None]
        weight = sum(n for _, n in present)
        signals[key] = round(sum(v * n for v, n in present) / weight, 4) if present else None  # type: ignore[operator]
    parts: dict[str, float | None] = {"chunks": mean_conf}
    weights = {"chunks": CHUNKS_WEIGHT}
    if margin is not None and math.isfinite(margin):
        parts["classifier_margin"] = signals["classifier_margin"] = round(margin_signal(margin), 4)
        weights["classifier_margin"] = 1.0
    confidence = combine(parts, weights)
    reasons = reasons_for(signals)
    if parts.get("classifier_margin") is not None and parts["classifier_margin"] < REASON_BELOW:  # type: ignore[operator]
        reasons.append(f"classifier_margin={parts['classifier_margin']:.2f}")
    return Assessment(signals, round(confidence, 4), reasons)


@dataclass
class WordList:
    """Known words per language from ``wordfreq`` (its lists ship in the package), loaded once
    per language on first use. Languages wordfreq lacks are judged by the English list."""

    wordlist: str = "large"
    fallback: str = "en"
    _sets: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def known_in(self, language: str | None) -> Callable[[str], bool]:
        words = self._words(language)
        return lambda w: w.casefold() in words

    def _words(self, language: str | None) -> Any:
        from wordfreq import available_languages, get_frequency_dict

        lang = language if language and language in available_languages(self.wordlist) else self.fallback
        with self._lock:
            if lang not in self._sets:
                self._sets[lang] = frozenset(get_frequency_dict(lang, self.wordlist))
            return self._sets[lang]
