"""Tesseract on one image (a rendered PDF page, a photo, a TIFF frame), run as a bounded child
(``bounded_child``). pytesseract would start the same command, but without a process group
and, as unstructured calls it, without a time limit: a hung Tesseract would hold the worker
while its heartbeat kept the stage looking alive."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterator

from documind.errors import CorruptFile

from documind_ingest.bounded_child import run_bounded

# Modes Tesseract reads from a PNG as they are; others (CMYK, 16-bit...) become RGB first.
PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA"}


def tesseract_text(image: Any, languages: str, *, timeout_s: float, what: str = "an image") -> str:
    """The text Tesseract reads in ``image`` (a PIL image). ``what`` names the input in the
    timeout's reason, e.g. "page 3"."""
    with tempfile.TemporaryDirectory(prefix="documind-ocr-") as tmp:
        source = Path(tmp) / "image.png"
        (image if image.mode in PNG_MODES else image.convert("RGB")).save(source, "PNG")
        done = run_bounded(
            ["tesseract", str(source), "stdout", "-l", languages],
            timeout_s=timeout_s, tool="Tesseract", task=f"reading {what}",
        )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CorruptFile(f"Tesseract could not read {what}: {message[-1] if message else done.returncode}")
    return done.stdout.decode("utf-8", "replace")


def image_frames(path: Path) -> Iterator[Any]:
    """Each frame of an image file (one for most formats, one per page of a TIFF), as RGB-safe
    PIL images. HEIC needs pi-heif's opener."""
    from PIL import Image, ImageSequence
    from pi_heif import register_heif_opener

    register_heif_opener()
    with Image.open(path) as img:
        for frame in ImageSequence.Iterator(img):
            yield frame.copy()
