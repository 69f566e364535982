"""A mixed set of small documents for the chaos test, made with the packages already pinned
(python-docx, python-pptx, openpyxl, fpdf2, Pillow) plus examples/docs. Every file's bytes are
unique (ingest de-duplicates by content). Files named ``bad-*`` are broken on purpose and
must fail for their own reasons, in a calm run and under chaos alike."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from tests.conftest import EXAMPLES

WORDS = (
    "river harbor lantern orchard glacier meadow copper falcon willow basalt tundra compass "
    "ledger archive signal beacon quarry saddle ember thistle canyon mosaic harvest pylon "
    "otter heron kelp lichen granite marsh prairie delta summit cedar maple aurora"
).split()
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
KINDS = ("txt", "md", "html", "csv", "docx", "pptx", "xlsx", "pdf")
# What the broken inputs' errors say (in a calm run too): a chaos failure would say otherwise.
# (400 bytes of a DOCX hold no more than the zip's first entry header: libmagic sees a plain zip.)
EXPECTED_ERRORS = {"bad-empty.txt": "file is empty", "bad-truncated.docx": "unsupported type: application/zip"}


def _sentences(rng: random.Random, n: int, tag: str) -> list[str]:
    return [f"{tag} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))) + "." for _ in range(n)]


def _paragraphs(rng: random.Random, tag: str, n: int = 3) -> list[str]:
    return [" ".join(_sentences(rng, rng.randint(3, 6), tag)) for _ in range(n)]


def _write(kind: str, path: Path, paras: list[str]) -> None:
    if kind == "txt":
        path.write_text("\n\n".join(paras) + "\n")
    elif kind == "md":
        path.write_text("\n\n".join(f"## Section {i}\n\n{p}" for i, p in enumerate(paras)) + "\n")
    elif kind == "html":
        body = "".join(f"<h2>Part {i}</h2><p>{p}</p>" for i, p in enumerate(paras))
        path.write_text(f"<!doctype html><html><head><title>{path.stem}</title></head><body>{body}</body></html>")
    elif kind == "csv":
        rows = ["id,topic,note"] + [f"{i},{p.split()[1]},\"{p[:120]}\"" for i, p in enumerate(paras)]
        path.write_text("\n".join(rows) + "\n")
    elif kind == "docx":
        import docx

        d = docx.Document()
        for i, p in enumerate(paras):
            d.add_heading(f"Section {i}", level=2)
            d.add_paragraph(p)
        d.save(path)
    elif kind == "pptx":
        from pptx import Presentation

        prs = Presentation()
        for i, p in enumerate(paras):
            slide = prs.slides.add_slide(prs.slide_layouts[1])
            slide.shapes.title.text = f"Slide {i}"
            slide.placeholders[1].text = p
        prs.save(path)
    elif kind == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["row", "text"])
        for i, p in enumerate(paras):
            ws.append([i, p])
        wb.save(path)
    elif kind == "pdf":
        from fpdf import FPDF

        pdf = FPDF()
        pdf.set_font("helvetica", size=11)
        for p in paras:  # one page each: three pages take the multi-range path (2 per range)
            pdf.add_page()
            pdf.multi_cell(0, 6, p)
        pdf.output(str(path))
    else:
        raise ValueError(kind)


def _scan(path: Path, lines: list[str]) -> None:
    """An image of printed text (OCR); a .pdf path makes an image-only (scanned) PDF."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, 28)
    img = Image.new("RGB", (1400, 80 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 50 * i), line, fill="black", font=font)
    img.save(path, **({"resolution": 150.0} if path.suffix == ".pdf" else {}))


def make_corpus(folder: Path, n: int, seed: int = 10) -> dict[str, str]:
    """Write about ``n`` files into ``folder``; return each file name's expected final status."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    for src in sorted(EXAMPLES.iterdir()):
        shutil.copy(src, folder / src.name)
        expected[src.name] = "completed"
    for i in range(2):  # OCR: two images and one scanned PDF
        name = f"scan-{seed}-{i}.png"
        _scan(folder / name, [f"Scanned note {seed}-{i} about the {rng.choice(WORDS)} and the {rng.choice(WORDS)}",
                              "Tide tables and harbor lanterns were checked every morning."])
        expected[name] = "completed"
    _scan(folder / f"scan-{seed}.pdf", [f"Scanned page {seed} of the {rng.choice(WORDS)} survey",
                                        "Copper wire was laid along the canyon road in spring."])
    expected[f"scan-{seed}.pdf"] = "completed"
    # Broken on purpose: an empty file and a truncated Word document fail at validation.
    (folder / "bad-empty.txt").write_bytes(b"")
    expected["bad-empty.txt"] = "failed"
    i = 0
    while len(expected) < n - 1:
        kind = KINDS[i % len(KINDS)]
        name = f"doc-{seed}-{i:03}.{kind}"
        _write(kind, folder / name, _paragraphs(rng, f"[{seed}-{i}]", n=rng.randint(2, 4)))
        expected[name] = "completed"
        i += 1
    whole = folder.parent / f"whole-{seed}.docx"  # outside the folder: only its first bytes go in
    _write("docx", whole, _paragraphs(rng, "whole"))
    (folder / "bad-truncated.docx").write_bytes(whole.read_bytes()[:400])
    whole.unlink()
    expected["bad-truncated.docx"] = "failed"
    return expected
