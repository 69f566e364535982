"""Entities in a chunk's text, each with its character offsets (``text[start:end]``).

Named entities come from spaCy's ``en_core_web_sm`` (offline, from a package): people,
organizations, places (spaCy's GPE, LOC and FAC), dates and money. Structured entities come
from libraries that know their formats, never from hand-written patterns:

- phone numbers: ``phonenumbers.PhoneNumberMatcher`` (Google's libphonenumber), valid numbers
  only, stored in E.164 form; numbers without a country code are read in
  ``DOCUMIND_ENTITY_PHONE_REGION``;
- e-mail addresses and URLs: spaCy's tokenizer marks them (``like_email``, ``like_url``);
  e-mail addresses must then pass ``email_validator`` (syntax only, no DNS lookups);
- IBANs: spaCy tokens that can start one (country code and check digits) are joined with the
  following groups and kept only when ``schwifty`` accepts them (country format, checksum).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from documind.entity_keys import normalize_value

# spaCy label -> our type (documind.entity_keys.ENTITY_TYPES).
SPACY_TYPES = {
    "PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE",
    "DATE": "DATE", "MONEY": "MONEY",
}
# Components NER does not need: dropping them saves a third to a half of spaCy's time per chunk.
UNUSED_PIPES = ("tagger", "parser", "attribute_ruler", "lemmatizer")
IBAN_MAX_LEN = 34  # ISO 13616
IBAN_MAX_TOKENS = 9  # "DE89 3704 0044 0532 0130 00": a grouped IBAN is at most 9 groups of 4


@dataclass(frozen=True)
class Entity:
    type: str
    text: str  # as written: text[start:end] of the chunk
    value: str  # normal form (documind.entity_keys)
    start: int
    end: int
    source: str


def load_spacy() -> Any:
    """The NER pipeline (a few hundred ms, ~50 MB): once per worker process, on first use."""
    _import_thinc_without_torch()
    import spacy

    return spacy.load("en_core_web_sm", exclude=list(UNUSED_PIPES))


def _import_thinc_without_torch() -> None:
    """thinc (spaCy's layers) imports torch whenever it is installed, for optional torch layers
    that en_core_web_sm does not use: seconds of CPU per process that the default encoder
    (onnx-int8) no longer pays. So thinc is imported first with torch hidden, and sees no torch
    (``has_torch`` False); torch itself stays importable for whatever needs it later. Only the
    first import does this; a process that has torch already imports thinc as usual."""
    if "thinc" in sys.modules or "torch" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment] - Python's marker for "cannot import"
    try:
        import thinc.compat  # noqa: F401
    finally:
        if sys.modules.get("torch", False) is None:
            del sys.modules["torch"]


@dataclass
class EntityExtractor:
    nlp: Any  # a loaded spaCy Language
    phone_region: str = "US"
    # spaCy does not promise that one pipeline may run in two threads at once (a worker
    # process has several): one at a time, which costs little as the GIL serializes most of it.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def analyze_many(self, texts: Sequence[str]) -> list[tuple[list[Entity], list[str]]]:
        """Per text: its entities and its alphabetic words (spaCy's tokens, for the
        dictionary signal of ``quality``), from one spaCy pass."""
        with self._lock:
            docs = list(self.nlp.pipe([t or "" for t in texts], batch_size=32))
        return [
            (self._from_doc(text or "", doc), [tok.text for tok in doc if tok.is_alpha])
            for text, doc in zip(texts, docs)
        ]

    def extract(self, text: str) -> list[Entity]:
        return self.analyze_many([text])[0][0]

    def _from_doc(self, text: str, doc: Any) -> list[Entity]:
        found: list[Entity] = []
        for ent in doc.ents:
            kind = SPACY_TYPES.get(ent.label_)
            if kind and ent.text.strip():
                found.append(_entity(kind, ent.text, ent.text, ent.start_char, ent.end_char, "spacy"))
        found += self._tokens(doc)
        found += self._phones(text)
        return _dedupe(found)

    def _tokens(self, doc: Any) -> list[Entity]:
        from email_validator import EmailNotValidError, validate_email

        out: list[Entity] = []
        for tok in doc:
            start, end = tok.idx, tok.idx + len(tok.text)
            if tok.like_email:
                try:
                    valid = validate_email(tok.text, check_deliverability=False)
                except EmailNotValidError:
                    continue
                out.append(_entity("EMAIL", tok.text, valid.normalized, start, end, "email-validator"))
            elif tok.like_url:
                out.append(_entity("URL", tok.text, tok.text, start, end, "spacy"))
        out += _ibans(doc)
        return out

    def _phones(self, text: str) -> list[Entity]:
        import phonenumbers

        out = []
        for match in phonenumbers.PhoneNumberMatcher(text, self.phone_region, leniency=phonenumbers.Leniency.VALID):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            out.append(_entity("PHONE", match.raw_string, e164, match.start, match.end, "phonenumbers"))
        return out


def _ibans(doc: Any) -> list[Entity]:
    """Grouped or compact IBANs: a token that starts like one (two letters, two digits),
    extended by following alphanumeric groups; the longest run schwifty accepts wins."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    out: list[Entity] = []
    tokens = list(doc)
    i = 0
    while i < len(tokens):
        head = tokens[i].text
        if not (len(head) >= 4 and head[:2].isalpha() and head[:2].isupper() and head[2:4].isdigit()):
            i += 1
            continue
        best = None
        compact = ""
        for j in range(i, min(i + IBAN_MAX_TOKENS, len(tokens))):
            part = tokens[j].text
            if not part.isalnum():
                break
            compact += part
            if len(compact) > IBAN_MAX_LEN:
                break
            try:
                iban = IBAN(compact)
            except (SchwiftyException, ValueError):
                continue
            best = (j, iban.compact)
        if best is None:
            i += 1
            continue
        j, value = best
        start, end = tokens[i].idx, tokens[j].idx + len(tokens[j].text)
        out.append(_entity("IBAN", doc.text[start:end], value, start, end, "schwifty"))
        i = j + 1
    return out


def _entity(kind: str, text: str, value: str, start: int, end: int, source: str) -> Entity:
    return Entity(kind, text[:512], normalize_value(value), start, end, source)


def _dedupe(entities: Iterable[Entity]) -> list[Entity]:
    """One entity per (type, span): spaCy may also tag a phone number's digits as MONEY or DATE;
    a structured match of the same span wins over a named-entity guess."""
    structured = [e for e in entities if e.source != "spacy" or e.type == "URL"]
    spans = [(e.start, e.end) for e in structured]
    out: dict[tuple[str, int, int], Entity] = {}
    for e in entities:
        if e.source == "spacy" and e.type != "URL" and any(s < e.end and e.start < t for s, t in spans):
            continue  # overlaps a structured entity
        out.setdefault((e.type, e.start, e.end), e)
    return sorted(out.values(), key=lambda e: (e.start, e.end, e.type))
