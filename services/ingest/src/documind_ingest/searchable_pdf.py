"""A searchable PDF of a scan or image (the page image with an invisible text layer), made
by OCRmyPDF with the configured Tesseract languages. Plain PDF output needs no Ghostscript
(only PDF/A does). A failure here costs the rendition, never the document."""

from __future__ import annotations

import tempfile
from pathlib import Path

from documind.logging import get_logger

from documind_ingest.validation import IMAGE_KINDS

# Screenshots carry no DPI; 96 gives their pages a screen-like size.
DEFAULT_IMAGE_DPI = 96


def _image_to_pdf(image_path: Path, out: Path) -> None:
    from PIL import Image
    from pi_heif import register_heif_opener

    register_heif_opener()
    with Image.open(image_path) as img:
        dpi = img.info.get("dpi", (DEFAULT_IMAGE_DPI, DEFAULT_IMAGE_DPI))[0] or DEFAULT_IMAGE_DPI
        img.convert("RGB").save(out, "PDF", resolution=float(dpi))


def searchable_pdf(path: Path, kind: str, *, ocr_languages: str) -> bytes | None:
    import ocrmypdf

    with tempfile.TemporaryDirectory(prefix="documind-ocrpdf-") as tmp:
        source, out = path, Path(tmp) / "searchable.pdf"
        try:
            if kind in IMAGE_KINDS:
                source = Path(tmp) / "image.pdf"
                _image_to_pdf(path, source)
            # force_ocr: the existing text layer (absent or junk) is what we replace; jobs=1: the
            # worker's other threads keep the second core.
            ocrmypdf.ocr(
                source, out, language=ocr_languages.split("+"), output_type="pdf", optimize=0,
                force_ocr=True, progress_bar=False, jobs=1,
            )
            return out.read_bytes()
        except Exception as exc:  # noqa: BLE001 - see module docstring
            get_logger("documind.ingest").warning("searchable PDF not made", kind=kind, error=str(exc)[:300])
            return None
