"""A searchable PDF of a scan or image (the page image with an invisible text layer), made
by OCRmyPDF with the configured Tesseract languages. Plain PDF output needs no Ghostscript
(only PDF/A does). A failure here costs the rendition, never the document.

OCRmyPDF runs in a child process, not in the worker: importing it monkeypatches pdfminer
process-wide (fonts without an encoding then yield no text, which changed how unstructured
read such PDFs for the rest of the worker's life), and it calls PDFium from its own threads
under its own lock, which does not exclude the worker's other PDFium users (pdfium_lock)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from documind.logging import get_logger

from documind_ingest.bounded_child import run_bounded
from documind_ingest.validation import IMAGE_KINDS

# Screenshots carry no DPI; 96 gives their pages a screen-like size.
DEFAULT_IMAGE_DPI = 96
# Tesseract takes seconds a page on these CPUs; a hung child must not hold the worker.
TIMEOUT_S_BASE = 60
TIMEOUT_S_PER_PAGE = 60


def _image_to_pdf(image_path: Path, out: Path) -> None:
    from PIL import Image
    from pi_heif import register_heif_opener

    register_heif_opener()
    with Image.open(image_path) as img:
        dpi = img.info.get("dpi", (DEFAULT_IMAGE_DPI, DEFAULT_IMAGE_DPI))[0] or DEFAULT_IMAGE_DPI
        img.convert("RGB").save(out, "PDF", resolution=float(dpi))


def ocrmypdf_command(source: Path, out: Path, ocr_languages: str) -> list[str]:
    # --force-ocr: the existing text layer (absent or junk) is what we replace; --jobs 1: the
    # worker's other threads keep the second core.
    return [
        sys.executable, "-m", "ocrmypdf", "--language", ocr_languages, "--output-type", "pdf",
        "--optimize", "0", "--force-ocr", "--jobs", "1", "--quiet", str(source), str(out),
    ]


def searchable_pdf(path: Path, kind: str, *, ocr_languages: str, pages: int = 1) -> bytes | None:
    log = get_logger("documind.ingest")
    with tempfile.TemporaryDirectory(prefix="documind-ocrpdf-") as tmp:
        source, out = path, Path(tmp) / "searchable.pdf"
        try:
            if kind in IMAGE_KINDS:
                source = Path(tmp) / "image.pdf"
                _image_to_pdf(path, source)
            # Bounded, and killed with its group: OCRmyPDF's Tesseract children die with it.
            done = run_bounded(
                ocrmypdf_command(source, out, ocr_languages),
                timeout_s=TIMEOUT_S_BASE + TIMEOUT_S_PER_PAGE * max(pages, 1),
                tool="OCRmyPDF", task="the searchable PDF",
            )
            if done.returncode != 0:
                log.warning(
                    "searchable PDF not made", kind=kind, exit_code=done.returncode,
                    error=done.stderr.decode("utf-8", "replace")[-300:],
                )
                return None
            return out.read_bytes()
        except Exception as exc:  # noqa: BLE001 - see module docstring
            log.warning("searchable PDF not made", kind=kind, error=str(exc)[:300])
            return None
