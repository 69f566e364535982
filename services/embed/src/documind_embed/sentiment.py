"""Sentiment of a chunk with VADER (``vaderSentiment``: a lexicon and rules, offline, the
lexicon ships inside the package). Its compound score runs from -1 (most negative) to 1;
the labels use VADER's own cut-offs (±0.05).

Good at: short English text with plain opinion words, negation ("not good"), intensifiers
("very"), capitals and exclamation marks, emoticons; fast (about a millisecond a chunk) and
deterministic. Bad at: any language but English (other text scores as neutral), sarcasm and
irony, domain words whose tone is not in its social-media lexicon ("liability", "positive
test"), and long formal text, where opinion words are sparse and the score drifts to neutral."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05


@dataclass(frozen=True)
class Sentiment:
    compound: float
    label: str  # negative | neutral | positive


def label_for(compound: float) -> str:
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def load_vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@dataclass
class SentimentAnalyzer:
    vader: Any  # a SentimentIntensityAnalyzer

    def score(self, text: str) -> Sentiment:
        if not (text or "").strip():
            return Sentiment(0.0, "neutral")
        compound = float(self.vader.polarity_scores(text)["compound"])
        return Sentiment(compound, label_for(compound))


def document_sentiment(scores: Sequence[tuple[float, int]]) -> Sentiment:
    """The document's compound score: its chunks' scores weighted by their length (chars)."""
    total = sum(max(n, 0) for _, n in scores)
    if total == 0:
        return Sentiment(0.0, "neutral")
    compound = sum(c * max(n, 0) for c, n in scores) / total
    return Sentiment(round(compound, 4), label_for(compound))
