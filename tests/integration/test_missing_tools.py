"""A laptop where the Quickstart could not install Debian's packages (not root, no sudo): the
embedded mode still starts; documents that need OCR or LibreOffice fail with a reason naming
the missing package, and everything else completes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.harness import REPO, embedded_stack

pytestmark = pytest.mark.integration

# Every program the ingest service may start for these documents.
HIDDEN = {"tesseract", "soffice", "libreoffice", "pdftoppm", "pdftotext", "pdfinfo", "gs"}


def _path_without_tools(root: Path) -> str:
    """A PATH with every program of the real one except the OCR and office tools."""
    farm = root / "bin"
    farm.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = farm / entry.name
            if entry.name not in HIDDEN and not target.exists():
                target.symlink_to(entry.path)
    return str(farm)


def _scan_pdf(path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1200, 400), "white")
    ImageDraw.Draw(img).text((40, 150), "A scanned page without a text layer", fill="black",
                             font=ImageFont.load_default(size=48))
    img.save(path, "PDF", resolution=150.0)
    img.save(path.with_suffix(".png"))


def _legacy_doc(folder: Path) -> bool:
    """A Word 97 .doc, made with the real LibreOffice when this machine has it."""
    if shutil.which("soffice") is None:
        return False
    import docx

    src = folder.parent / "legacy.docx"
    d = docx.Document()
    d.add_paragraph("A legacy Word document about tide pools and barnacles.")
    d.save(src)
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "doc", "--outdir", str(folder), str(src)],
        check=True, capture_output=True, timeout=180,
    )
    return (folder / "legacy.doc").exists()


def test_embedded_mode_without_ocr_and_office_tools(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("coffee-brewing.txt", "tide-pools.html", "qdrant-notes.md"):
        shutil.copy(REPO / "examples" / "docs" / name, docs / name)
    _scan_pdf(docs / "scan.pdf")
    has_doc = _legacy_doc(docs)

    (tmp_path / "stack").mkdir()
    stack = embedded_stack(tmp_path / "stack")
    stack.env["PATH"] = _path_without_tools(tmp_path)
    res = stack.cli("ingest", str(docs), "--wait", "--json", check=False)
    assert res.code == 3, res.stderr[-3000:]  # some failed, none left unfinished
    by_name = {Path(d["source_name"]).name: d for d in res.json()}

    for name in ("coffee-brewing.txt", "tide-pools.html", "qdrant-notes.md"):
        assert by_name[name]["status"] == "completed", by_name[name]
    for name in ("scan.pdf", "scan.png"):
        assert by_name[name]["status"] == "failed"
        assert "Tesseract is not installed" in by_name[name]["error"]
        assert "apt-get install tesseract-ocr" in by_name[name]["error"]
    if has_doc:
        assert by_name["legacy.doc"]["status"] == "failed"
        assert "LibreOffice is not installed" in by_name["legacy.doc"]["error"]
    # The start-up says once what will not work here.
    assert "Tesseract is not installed on this machine" in res.stderr
    # And search works on what completed.
    hits = stack.search("animals on rocky shores", 1)
    assert hits and Path(hits[0]["source_name"]).name == "tide-pools.html"
