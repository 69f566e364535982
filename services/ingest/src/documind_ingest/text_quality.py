"""Is a PDF's text layer worth keeping, or is it junk that OCR would beat?

Scanned PDFs often carry a bad OCR layer, and broken font encodings give runs of replacement
characters or ``(cid:NN)`` codes. Script-neutral checks (letters among visible characters,
replacement characters) apply to every language; the word-shape check looks at Latin-script
tokens only, so Korean or Hebrew text is never called garbage for not looking like English."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CID = re.compile(r"\(cid:\d+\)")
_LATIN_TOKEN = re.compile(r"[A-Za-z\u00C0-\u024F]+")
# A word-shaped Latin token: all lower case, Capitalised or ALL CAPS, with a vowel, 2-20 long.
# OCR junk is mostly mixed-case fragments and consonant clusters ("tHe", "Rbn", "vvxq").
_WORD_SHAPE = re.compile(r"^(?:[A-Z\u00C0-\u00DE]?[a-z\u00DF-\u024F]{1,19}|[A-Z\u00C0-\u00DE]{2,20})$")
_VOWEL = re.compile(r"[aeiouyAEIOUY\u00C0-\u00C6\u00E0-\u00E6\u00C8-\u00CF\u00E8-\u00EF\u00D2-\u00D6\u00F2-\u00F6\u00D9-\u00DC\u00F9-\u00FC]")


@dataclass(frozen=True)
class TextQuality:
    visible_chars: int
    letter_ratio: float  # letters (any script) among non-space characters
    replacement_ratio: float  # U+FFFD and (cid:NN) codes among non-space characters
    word_shape_ratio: float | None  # word-shaped among Latin tokens; None when too few tokens

    @property
    def is_garbage(self) -> bool:
        if self.visible_chars == 0:
            return False  # "no text" is decided by the caller's per-page minimum
        if self.replacement_ratio > 0.05 or self.letter_ratio < 0.5:
            return True
        return self.word_shape_ratio is not None and self.word_shape_ratio < 0.5


def assess(text: str) -> TextQuality:
    cids = sum(len(m) for m in _CID.findall(text))
    stripped = _CID.sub("", text)
    visible = [c for c in stripped if not c.isspace()]
    n = len(visible) + cids
    if n == 0:
        return TextQuality(0, 0.0, 0.0, None)
    letters = sum(1 for c in visible if c.isalpha())
    replacement = sum(1 for c in visible if c == "\ufffd") + cids
    tokens = _LATIN_TOKEN.findall(stripped)
    shaped = sum(1 for t in tokens if _WORD_SHAPE.match(t) and (len(t) <= 3 or _VOWEL.search(t)))
    return TextQuality(
        visible_chars=n,
        letter_ratio=letters / n,
        replacement_ratio=replacement / n,
        word_shape_ratio=shaped / len(tokens) if len(tokens) >= 20 else None,
    )
