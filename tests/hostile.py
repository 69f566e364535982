"""Builders of hostile inputs: each small on disk, generated at test time, each a resource bomb
of one kind (pixels, pages, text size, entity expansion, nesting, e-mail attachments)."""

from __future__ import annotations

import base64
import random
import struct
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pixel_bomb_png(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A valid 1-bit PNG of ``width`` × ``height`` white pixels: ~200 KB on disk, 1.6 G pixels
    (1.6 GB as Pillow decodes it) by default."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    rows_per_piece = max(1, (4 << 20) // len(row))
    parts = []
    for first in range(0, height, rows_per_piece):
        parts.append(packer.compress(row * min(rows_per_piece, height - first)))
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )
    return path


def _pdf(path: Path, pages: int, width_pt: float, height_pt: float, content: bytes | None) -> Path:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    for _ in range(pages):
        page = writer.add_blank_page(width=width_pt, height=height_pt)
        if content is not None:
            stream = DecodedStreamObject()
            stream.set_data(content)
            page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def huge_page_pdf(path: Path, width_in: float = 40, height_in: float = 40) -> Path:
    """One page ``width_in`` × ``height_in`` inches with a thick diagonal line (so it is not
    blank): 144 M pixels at 300 dpi by default, from a file of a few hundred bytes."""
    w, h = width_in * 72, height_in * 72
    return _pdf(path, 1, w, h, f"q 20 w 0 0 m {w:.0f} {h:.0f} l S Q".encode())


def blank_pages_pdf(path: Path, pages: int = 2_000) -> Path:
    """``pages`` US Letter pages with nothing on them and no text layer (~150 bytes a page)."""
    return _pdf(path, pages, 612, 792, None)


def speck_page_pdf(path: Path) -> Path:
    """A page with no text layer and one short dark stroke: not blank."""
    return _pdf(path, 1, 612, 792, b"q 6 w 100 700 m 200 700 l S Q")


def no_whitespace_text(path: Path, megabytes: float = 40) -> Path:
    """Base64 letters and digits with no whitespace at all (deterministic)."""
    raw = random.Random(10).randbytes(int(megabytes * 1024 * 1024 * 3 / 4))
    path.write_bytes(base64.b64encode(raw))
    return path


def billion_laughs_xml(path: Path, levels: int = 10) -> Path:
    """The classic entity-expansion bomb: a few hundred bytes expanding to 10^levels 'lol's."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", '  <!ENTITY lol0 "lol">']
    for i in range(1, levels):
        lines.append(f'  <!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">')
    lines += ["]>", f"<lolz><p>&lol{levels - 1};</p></lolz>"]
    path.write_text("\n".join(lines) + "\n")
    return path


def billion_laughs_html(path: Path, levels: int = 10) -> Path:
    """The same bomb in an HTML page's doctype, next to a readable paragraph."""
    lines = ["<!DOCTYPE html [", '  <!ENTITY lol0 "lol">']
    for i in range(1, levels):
        lines.append(f'  <!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">')
    lines += ["]>", f"<html><body><p>Readable words about the harbour. &lol{levels - 1};</p></body></html>"]
    path.write_text("\n".join(lines) + "\n")
    return path


def deep_html(path: Path, depth: int = 100_000, text: str | None = None) -> Path:
    """A readable sentence inside ``depth`` nested <div>s (about 11 bytes a level)."""
    text = text or "The quarterly report shows revenue growth in every region of the company."
    path.write_text(
        "<!DOCTYPE html><html><head><title>Deep</title></head><body>"
        + "<div>" * depth + f"<p>{text}</p>" + "</div>" * depth + "</body></html>\n"
    )
    return path


def deep_xml(path: Path, depth: int = 100_000, text: str | None = None) -> Path:
    text = text or "The shipping manifest lists forty containers bound for the northern harbour."
    path.write_text('<?xml version="1.0"?>\n<root>' + "<n>" * depth + text + "</n>" * depth + "</root>\n")
    return path


def zip_bomb_docx(path: Path, megabytes: int = 600) -> Path:
    """A .docx whose document.xml declares ``megabytes`` of expansion (spaces): a zip bomb."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            block = b" " * (1 << 20)
            for _ in range(megabytes):
                fh.write(block)
    return path


def email_with_bombs(path: Path, tmp: Path) -> Path:
    """A readable e-mail body with two hostile attachments: a zip-bomb .docx and a 40000 ×
    40000 pixel PNG."""
    msg = EmailMessage()
    msg["From"] = "sender@example.com"
    msg["To"] = "receiver@example.com"
    msg["Subject"] = "Quarterly figures"
    msg.set_content("Please find the quarterly figures for the northern region attached to this message.\n")
    docx = zip_bomb_docx(tmp / "figures.docx")
    png = pixel_bomb_png(tmp / "chart.png")
    msg.add_attachment(
        docx.read_bytes(), maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="figures.docx",
    )
    msg.add_attachment(png.read_bytes(), maintype="image", subtype="png", filename="chart.png")
    path.write_bytes(msg.as_bytes())
    return path
