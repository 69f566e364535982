"""How an extracted entity is named in search filters: ``TYPE:value``, one normal form shared by
the embed service (which writes the keys onto each chunk's index point) and every caller of
``documind search --entity`` (whose filter must match them byte for byte).

The value's normal form is case-folded with runs of whitespace made one space: "Norwich City"
and "NORWICH  city" are one key. Structured entities are stored already normalized by their
library (E.164 phone numbers, compact IBANs, lower-cased e-mail domains), so a filter gives
them in that form (``PHONE:+442079460958``, ``IBAN:gb82west12345698765432``)."""

from __future__ import annotations

ENTITY_TYPES = ("PERSON", "ORG", "PLACE", "DATE", "MONEY", "EMAIL", "PHONE", "URL", "IBAN")
MAX_VALUE_CHARS = 256


class InvalidEntityFilter(ValueError):
    """A ``TYPE:VALUE`` filter that names no known type or has no value."""


def normalize_value(value: str) -> str:
    return " ".join(value.split()).casefold()[:MAX_VALUE_CHARS]


def entity_key(entity_type: str, value: str) -> str:
    return f"{entity_type}:{normalize_value(value)}"


def parse_entity_filter(raw: str) -> str:
    """``person:Iwan Roberts`` -> ``PERSON:iwan roberts``; a clear error for anything else."""
    kind, sep, value = raw.partition(":")
    kind = kind.strip().upper()
    if not sep or kind not in ENTITY_TYPES:
        raise InvalidEntityFilter(
            f"entity filter {raw[:80]!r} must be TYPE:VALUE with TYPE one of {', '.join(ENTITY_TYPES)}"
        )
    if not normalize_value(value):
        raise InvalidEntityFilter(f"entity filter {raw[:80]!r} has no value after the colon")
    return entity_key(kind, value)
