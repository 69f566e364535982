"""documind.query_file: the batch query file of ``documind search --queries``."""

from __future__ import annotations

from pathlib import Path

import pytest

from documind.query_file import QueryFileError, read_query_file


def _file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "q.txt"
    p.write_text(text, encoding="utf-8")
    return p


def test_plain_and_json_lines_mix(tmp_path: Path) -> None:
    qs = read_query_file(_file(tmp_path, 'first query\n\n{"id": "q7", "text": "second"}\n{"id": 9, "text": "third"}\n'))
    assert [(q.id, q.text) for q in qs] == [("1", "first query"), ("q7", "second"), ("9", "third")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('ok\n{"id": 1, "text": \n', "line 2: not valid JSON"),
        ('{"id": "a"}\n', 'line 1: a JSON line needs "text"'),
        ('ok\nok\n{"id": "x", "text": "  "}\n', 'line 3: "text" must be a non-empty string'),
        ('{"id": "a", "text": "t", "k": 3}\n', "line 1: unknown field(s) k"),
        ('{"id": [1], "text": "t"}\n', 'line 1: "id" must be a string'),
        ('{"id": "a", "text": "t"}\n{"id": "a", "text": "u"}\n', "line 2: id 'a' already used on line 1"),
        ("\n\n", "no queries"),
    ],
)
def test_bad_lines_name_their_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(QueryFileError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        read_query_file(_file(tmp_path, text))


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(QueryFileError, match="No such file"):
        read_query_file(tmp_path / "none.txt")
    p = tmp_path / "bin"
    p.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(QueryFileError, match="not UTF-8"):
        read_query_file(p)
