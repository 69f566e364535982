"""Training pairs for fine-tuning the embedding model: (query, relevant passage). Read by the
CLI (to refuse a bad file before any job starts) and by the training job."""

from __future__ import annotations

import json

from documind.errors import PermanentError

Pair = tuple[str, str]  # (query, relevant passage)


class BadPairs(PermanentError):
    """The pairs file cannot be read or holds too few pairs."""


def parse_pairs(data: bytes, name: str) -> list[Pair]:
    """``.jsonl``: one ``{"query": ..., "passage": ...}`` per line; anything else: TSV with
    exactly two columns (query, passage). Blank lines are skipped; anything else malformed
    is an error naming its line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadPairs(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    pairs: list[Pair] = []
    as_json = name.lower().endswith(".jsonl")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if as_json:
            try:
                obj = json.loads(line)
                q, p = obj["query"], obj["passage"]
            except (ValueError, KeyError, TypeError):
                raise BadPairs(f"{name}:{n}: expected a JSON object with 'query' and 'passage'") from None
        else:
            cols = line.split("\t")
            if len(cols) != 2:
                raise BadPairs(f"{name}:{n}: expected 2 tab-separated columns (query, passage), got {len(cols)}")
            q, p = cols
        q, p = str(q).strip(), str(p).strip()
        if not q or not p:
            raise BadPairs(f"{name}:{n}: empty query or passage")
        pairs.append((q, p))
    return pairs
