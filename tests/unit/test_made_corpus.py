"""tests/made_corpus.py itself: every file is made, deterministically, and a file that needs a
missing tool skips its test with a message that names the tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import made_corpus
from tests.made_corpus import LARGE, MadeCorpus

TEXT_LIKE = ("cp1252.html", "codeblock.md", "languages.txt", "plain.eml", "outlook.msg", "long-lines.csv",
             "tables.docx", "field-manual-7p.pdf")


def test_every_file_is_made(made_corpus) -> None:
    for name in sorted(set(made_corpus.names()) - LARGE):
        if made_corpus.unavailable(name):
            continue
        path = made_corpus / name
        assert path.is_file(), name
        assert (path.stat().st_size == 0) == (name == "empty.txt"), name
    assert not list(made_corpus.root.glob(".*.part*")), "a half-made file was left behind"


@pytest.mark.parametrize("name", TEXT_LIKE)
def test_same_bytes_every_session(tmp_path: Path, name: str) -> None:
    first, second = MadeCorpus(tmp_path / "a") / name, MadeCorpus(tmp_path / "b") / name
    if name.endswith(".docx"):  # a zip: compare the parts, not the members' timestamps
        import zipfile

        with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
            assert [(i.filename, a.read(i)) for i in a.infolist()] == [(i.filename, b.read(i)) for i in b.infolist()]
    else:
        assert first.read_bytes() == second.read_bytes()


def test_missing_libreoffice_skips_with_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(made_corpus, "soffice", lambda: None)
    corpus = MadeCorpus(tmp_path)
    with pytest.raises(pytest.skip.Exception, match=r"legacy\.doc is made by LibreOffice \(soffice\), which is not installed"):
        corpus / "legacy.doc"
    assert corpus / "tables.docx"  # the others are still made
