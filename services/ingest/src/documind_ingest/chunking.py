"""Chunking that respects structure (unstructured's ``chunk_by_title``: sections, tables,
pages) and the embedding model's window: a chunk longer than the window in word pieces is
split at whitespace, so nothing is silently truncated by the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence


class Tokenizer(Protocol):
    def count_many(self, texts: Sequence[str]) -> list[int]: ...


@dataclass
class ChunkDraft:
    text: str
    token_count: int
    page_start: int | None
    page_end: int | None
    element_types: list[str] = field(default_factory=list)


def _pages_and_types(chunk: Any) -> tuple[int | None, int | None, list[str]]:
    originals = getattr(chunk.metadata, "orig_elements", None) or [chunk]
    pages = [e.metadata.page_number for e in originals if getattr(e.metadata, "page_number", None)]
    types = sorted({type(e).__name__ for e in originals})
    return (min(pages) if pages else None, max(pages) if pages else None, types)


def split_to_window(text: str, max_tokens: int, count: Any, overlap_chars: int = 0) -> list[str]:
    """Split ``text`` into pieces of at most ``max_tokens`` word pieces (specials included),
    cutting at whitespace. ``count(list[str]) -> list[int]``. Each piece after the first
    starts with the previous piece's last words, up to ``overlap_chars`` characters (and at
    most half the window), so a sentence cut at a boundary is whole in one of them."""
    if count([text])[0] <= max_tokens:
        return [text]
    words = text.split()
    pieces: list[str] = []
    current: list[str] = []
    # Grow greedily by words; word-piece counts are additive over whitespace-split words for
    # BERT-style tokenizers, so counting per word is exact.
    word_counts = [c - 2 for c in count(words)] if words else []
    budget = max_tokens - 2
    used = 0
    current_counts: list[int] = []
    for word, n in zip(words, word_counts):
        if current and used + n > budget:
            pieces.append(" ".join(current))
            current, current_counts, used = _overlap_tail(current, current_counts, overlap_chars, budget // 2)
            if used + n > budget:
                current, current_counts, used = [], [], 0
        if n > budget:  # one absurd "word" (e.g. a base64 blob): cut by its own tokens
            if current:
                pieces.append(" ".join(current))
                current, current_counts, used = [], [], 0
            pieces.extend(_hard_cut(word, max_tokens, count))
            continue
        current.append(word)
        current_counts.append(n)
        used += n
    if current:
        pieces.append(" ".join(current))
    return pieces


def _overlap_tail(
    words: list[str], counts: list[int], max_chars: int, max_tokens: int
) -> tuple[list[str], list[int], int]:
    """The longest run of trailing words within ``max_chars`` characters and ``max_tokens``."""
    if max_chars <= 0:
        return [], [], 0
    chars = tokens = 0
    start = len(words)
    while start > 0:
        w, n = words[start - 1], counts[start - 1]
        if chars + len(w) + 1 > max_chars or tokens + n > max_tokens:
            break
        chars += len(w) + 1
        tokens += n
        start -= 1
    if start == 0:  # never repeat a whole piece: that would not move forward
        return [], [], 0
    return words[start:], counts[start:], tokens


def _hard_cut(word: str, max_tokens: int, count: Any) -> list[str]:
    """Cut a whitespace-free string into the longest prefixes that fit the window; word-piece
    density varies along such strings, so each cut is found by binary search on the count."""
    pieces = []
    rest = word
    while rest:
        if count([rest])[0] <= max_tokens:
            pieces.append(rest)
            break
        lo, hi = 1, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count([rest[:mid]])[0] <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(rest[:lo])
        rest = rest[lo:]
    return pieces


def chunk_elements(
    elements: list[Any], tokenizer: Tokenizer, *, max_chars: int, overlap_chars: int, max_tokens: int
) -> list[ChunkDraft]:
    from unstructured.chunking.title import chunk_by_title

    if not elements:
        return []
    chunks = chunk_by_title(
        elements,
        max_characters=max_chars,
        new_after_n_chars=int(max_chars * 0.8),
        combine_text_under_n_chars=min(200, max_chars // 2),
        overlap=overlap_chars,
        # Without overlap_all unstructured only overlaps pieces of one oversized element;
        # the setting promises overlap between every pair of neighbouring chunks.
        overlap_all=overlap_chars > 0,
        multipage_sections=True,
    )
    drafts: list[ChunkDraft] = []
    # NUL bytes occur in text layers of some PDFs; no database text column accepts them.
    texts = [c.text.replace("\x00", "").strip() for c in chunks]
    counts = tokenizer.count_many(texts) if texts else []
    for chunk, text, n in zip(chunks, texts, counts):
        if not text:
            continue
        page_start, page_end, types = _pages_and_types(chunk)
        if n <= max_tokens:
            drafts.append(ChunkDraft(text, n, page_start, page_end, types))
            continue
        for piece in split_to_window(text, max_tokens, tokenizer.count_many, overlap_chars):
            drafts.append(ChunkDraft(piece, tokenizer.count_many([piece])[0], page_start, page_end, types))
    return drafts
