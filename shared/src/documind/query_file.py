"""The query file of ``documind search --queries FILE``: one query per line, or JSON lines
``{"id": ..., "text": ...}`` (the two may mix). Blank lines are skipped; a plain line's id is
its line number. Every problem names its line, and the whole file is checked before anything
is sent."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from documind.contracts import BatchQuery


class QueryFileError(ValueError):
    pass


def parse_query_line(line: str, lineno: int, where: str = "line") -> BatchQuery | None:
    text = line.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QueryFileError(f"{where} {lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict) or "text" not in obj:
            raise QueryFileError(f'{where} {lineno}: a JSON line needs "text" (and optionally "id")')
        unknown = set(obj) - {"id", "text"}
        if unknown:
            raise QueryFileError(f"{where} {lineno}: unknown field(s) {', '.join(sorted(unknown))}; only id and text")
        qid, qtext = obj.get("id", lineno), obj["text"]
        if not isinstance(qtext, str) or not qtext.strip():
            raise QueryFileError(f'{where} {lineno}: "text" must be a non-empty string')
        if not isinstance(qid, (str, int)) or isinstance(qid, bool):
            raise QueryFileError(f'{where} {lineno}: "id" must be a string or an integer')
    else:
        qid, qtext = lineno, text
    try:
        return BatchQuery(id=str(qid), text=qtext)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise QueryFileError(f"{where} {lineno}: {err['loc'][0]}: {err['msg']}") from None


def read_query_file(path: Path) -> list[BatchQuery]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise QueryFileError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise QueryFileError(f"{path}: {exc.strerror or exc}") from None
    queries, seen = [], {}
    for n, line in enumerate(lines, 1):
        q = parse_query_line(line, n, where=f"{path} line")
        if q is None:
            continue
        if q.id in seen:
            raise QueryFileError(f"{path} line {n}: id {q.id!r} already used on line {seen[q.id]}")
        seen[q.id] = n
        queries.append(q)
    if not queries:
        raise QueryFileError(f"{path}: no queries (one per line, or JSON lines with id and text)")
    return queries
