"""Resource budgets checked before the work, so a small hostile file cannot cost hours or
gigabytes: pixels of an image or a rendered page, pages of a PDF, bytes of plain text.

Each check reads headers only (Pillow's ``Image.open`` parses the header and decodes nothing
until ``load``) and raises ``FileTooLarge`` with a reason the uploader can act on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from documind.errors import CorruptFile, FileTooLarge

# Defaults of DOCUMIND_MAX_PAGE_PIXELS / _MAX_PAGES / _MAX_TEXT_BYTES (settings.py says why).
MAX_PAGE_PIXELS = 50_000_000
MAX_PAGES = 5_000
MAX_TEXT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Budgets:
    max_page_pixels: int = MAX_PAGE_PIXELS
    max_pages: int = MAX_PAGES
    max_text_bytes: int = MAX_TEXT_BYTES


def limit_pillow(max_pixels: int) -> None:
    """Pillow's decompression-bomb limit back to our budget (Pillow warns above it and refuses
    twice it), a last line behind our own header checks. unstructured raises it process-wide
    to 500 M pixels when its PDF module is imported, lazily (importing it up front would cost
    every worker start seconds): the worker's composition root sets it, and ``extract`` sets
    it again around every unstructured call."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels


def _open_image(path: Path) -> Any:
    from PIL import Image
    from pi_heif import register_heif_opener

    register_heif_opener()
    try:
        return Image.open(path)
    except Image.DecompressionBombError:
        # Over twice Pillow's limit: ``Image.open`` refuses before saying the size. Pillow's
        # format registry opens the header without that check, so the refusal can name it.
        return _header_only(path)


def _header_only(path: Path) -> Any:
    from PIL import Image

    Image.init()
    with path.open("rb") as fh:
        prefix = fh.read(16)
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        if accept is None or accept(prefix):
            try:
                return factory(str(path), str(path))
            except (SyntaxError, OSError, ValueError):
                continue
    raise FileTooLarge("image is too large to decode safely")


def check_image(path: Path, budgets: Budgets) -> None:
    """Every frame's width × height within the pixel budget and no more frames than the page
    budget, read from the headers before any pixel is decoded. A damaged header is a corrupt
    file: Pillow's decoders raise almost anything on hostile bytes (found by fuzzing)."""
    try:
        _check_frames(path, budgets)
    except FileTooLarge:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CorruptFile(f"could not read image file: {type(exc).__name__}: {str(exc)[:200]}") from None


def _check_frames(path: Path, budgets: Budgets) -> None:
    with _open_image(path) as img:
        for number, (width, height) in enumerate(frame_sizes(img), start=1):
            if number > budgets.max_pages:
                raise FileTooLarge(f"image has more than {budgets.max_pages} frames (the page limit)")
            if width * height > budgets.max_page_pixels:
                where = "image" if number == 1 else f"frame {number} of the image"
                raise FileTooLarge(
                    f"{where} is {width} × {height} pixels, over the limit of {budgets.max_page_pixels:,} "
                    "pixels (DOCUMIND_MAX_PAGE_PIXELS)"
                )


def frame_sizes(img: Any) -> Iterator[tuple[int, int]]:
    """(width, height) of each frame; seeking a TIFF reads the next directory, not pixels."""
    frames = getattr(img, "n_frames", 1)
    for index in range(frames):
        if index:
            img.seek(index)
        yield img.size


def pdf_render_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> float:
    """The render scale (pixels per PDF point) for ``dpi``, lowered so that the page's pixels
    stay within ``max_pixels``: a tiny PDF can declare a page hundreds of inches wide."""
    scale = dpi / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0)
    if area * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / area) * 0.999  # rounding up a pixel must not cross it
    return scale


def check_pages(pages: int, budgets: Budgets) -> None:
    if pages > budgets.max_pages:
        raise FileTooLarge(
            f"PDF has {pages:,} pages, over the limit of {budgets.max_pages:,} (DOCUMIND_MAX_PAGES)"
        )


def check_text_size(size: int, kind: str, budgets: Budgets) -> None:
    if size > budgets.max_text_bytes:
        raise FileTooLarge(
            f"{kind} file has {size / 1048576:.1f} MB of text, over the limit of "
            f"{budgets.max_text_bytes / 1048576:.1f} MB (DOCUMIND_MAX_TEXT_BYTES)"
        )
