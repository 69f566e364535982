"""Renditions: written to the file store from extracted elements, found by the keys recorded
on the document, refused clearly when absent, and removed with the document."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from documind.renditions import RenditionMissing, delete_renditions, find_rendition, rendition_key
from documind.storage import LocalStorage
from documind_ingest.renditions import store_renditions


@pytest.fixture
def elements(tmp_path: Path):
    from unstructured.partition.auto import partition

    src = tmp_path / "notes.md"
    src.write_text("# Glacier Survey\n\nThe glaciers retreated twelve metres.\n\n- ice\n- snow\n")
    return partition(filename=str(src))


def test_store_find_and_delete(tmp_path: Path, elements) -> None:
    storage = LocalStorage(tmp_path / "files")
    keys = store_renditions(storage, elements, tenant="acme", document_id="d1", generation=3)
    assert keys == {f: rendition_key("acme", "d1", 3, f) for f in ("json", "md", "txt")}
    metadata = {"renditions": keys}

    data = json.loads(storage.open(find_rendition(metadata, "json", storage)).read())
    assert [d["type"] for d in data][:2] == ["Title", "NarrativeText"]
    assert data[1]["text"] == "The glaciers retreated twelve metres."
    md = storage.open(find_rendition(metadata, "md", storage)).read().decode()
    assert "# Glacier Survey" in md and "The glaciers retreated twelve metres." in md
    txt = storage.open(find_rendition(metadata, "txt", storage)).read().decode()
    assert txt.startswith("Glacier Survey") and "#" not in txt

    assert delete_renditions(metadata, storage) == 3
    assert not any(storage.exists(k) for k in keys.values())
    with pytest.raises(RenditionMissing, match="recorded but missing from the file store"):
        find_rendition(metadata, "md", storage)


def test_missing_rendition_says_what_exists(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    with pytest.raises(RenditionMissing, match=r"no md rendition \(available: none\)"):
        find_rendition({}, "md", storage)
    with pytest.raises(RenditionMissing, match=r"no txt rendition \(available: json\)"):
        find_rendition({"renditions": {"json": "t/renditions/x/1/elements.json"}}, "txt", storage)
    with pytest.raises(RenditionMissing, match="unknown rendition format 'docx'"):
        find_rendition({}, "docx", storage)


def test_reprocess_keeps_only_the_new_generation(tmp_path: Path, elements) -> None:
    storage = LocalStorage(tmp_path / "files")
    old = store_renditions(storage, elements, tenant="t", document_id="d", generation=1)
    new = store_renditions(storage, elements, tenant="t", document_id="d", generation=2)
    delete_renditions({"renditions": old}, storage, keep=set(new.values()))
    assert not any(storage.exists(k) for k in old.values())
    assert all(storage.exists(k) for k in new.values())


def test_put_bytes_replaces_atomically(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    storage.put_bytes("t/r/a.txt", b"one")
    storage.put_bytes("t/r/a.txt", b"two")
    assert storage.open("t/r/a.txt").read() == b"two"
    assert [p.name for p in (tmp_path / "files" / "t" / "r").iterdir()] == ["a.txt"]
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put_bytes("../outside", b"x")


@pytest.mark.parametrize(("source", "kind", "needle"),
                         [("scan.png", "png", "glaciers"), ("scan-no-text-layer.pdf", "pdf", "Lorem ipsum")])
def test_searchable_pdf_of_a_scan_has_a_text_layer(made_corpus, tmp_path: Path, source: str, kind: str,
                                                   needle: str) -> None:
    from pypdf import PdfReader

    from documind_ingest.searchable_pdf import searchable_pdf

    stored = tmp_path / "stored"  # the store keeps no extension
    shutil.copy(made_corpus / source, stored)
    data = searchable_pdf(stored, kind, ocr_languages="eng")
    assert data is not None and data.startswith(b"%PDF")
    out = tmp_path / "out.pdf"
    out.write_bytes(data)
    assert needle in PdfReader(str(out)).pages[0].extract_text()


def test_searchable_pdf_failure_costs_only_the_rendition(tmp_path: Path) -> None:
    from documind_ingest.searchable_pdf import searchable_pdf

    path = tmp_path / "broken"
    path.write_bytes(b"%PDF-1.4 broken")
    assert searchable_pdf(path, "pdf", ocr_languages="eng") is None
