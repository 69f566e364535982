"""A corpus generated at test time, one small function per kind of file, so that a clone of
the repository tests every capability the real corpus tests (text-layer and scanned PDFs,
encrypted and broken files, Office and legacy Office, open formats, text encodings, e-mail,
and large files) without any file checked in.

Files are made on first use, into one folder per test session, and kept for the session
(seconds in all; the 640-page PDF takes the longest). The content is deterministic: fixed
text, seeds and dates (only encryption salts and LibreOffice's own timestamps vary). Only
packages pinned in requirements/constraints.txt are used; LibreOffice (for .doc/.ppt/.xls) is
optional, and a test that needs it is skipped with a message naming it."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import pytest

# What OCR must read back from the generated images and scans (Pillow's default font, large).
OCR_PHRASE = "Quarterly report about glaciers"
SENTENCE = "The glaciers retreated twelve metres this year"
# Only the text PDFs say this: a search for it finds them and nothing else generated.
ROPE = "Field crews must never cross the crevasse zone without a rope team."
DATE = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.timezone.utc)

_WORDS = (
    "river valley glacier survey station measured meltwater sediment ridge moraine summit snow "
    "season winter summer field team camp report record sample core layer ice flow rate basin "
    "slope weather wind cloud rain stream lake shore rock map route trail north south east west"
).split()


def prose(seed: int, sentences: int) -> str:
    """Deterministic English-looking sentences (a fixed seed per file)."""
    rng = random.Random(seed)
    out = []
    for _ in range(sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 16))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def text_image(size: tuple[int, int] = (1000, 200), lines: tuple[str, ...] = (OCR_PHRASE,)):
    """Black text on white with Pillow's own scalable font: Tesseract reads it reliably."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    draw, font = ImageDraw.Draw(img), ImageFont.load_default(size=48)
    for i, line in enumerate(lines):
        draw.text((20, 60 + 80 * i), line, fill="black", font=font)
    return img


# --- PDF ------------------------------------------------------------------------------------


def text_pdf(target: Path, pages: int = 7, seed: int = 1, sentences: int = 6) -> Path:
    """``pages`` pages with a text layer, each a heading and two paragraphs (fpdf2, core font)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(DATE)
    pdf.set_title("Glacier Field Manual")
    pdf.set_author("Survey Office")
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, f"Section {n} Field Notes", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, f"{SENTENCE} at station {n}. {ROPE} {prose(seed * 1000 + n, sentences)}")
        pdf.ln(4)
        pdf.multi_cell(0, 6, prose(seed * 1000 + n + 500, sentences))
    pdf.output(str(target))
    return target


def two_column_pdf(target: Path) -> None:
    """Two pages set in two columns, as research papers are: the text must not interleave."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(DATE)
    for n in (1, 2):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 10, f"Dense Passage Retrieval Part {n}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        with pdf.text_columns(ncols=2, gutter=8) as cols:
            cols.write(f"Each passage is retrieved by its dense vector. {prose(40 + n, 14)}")
            cols.ln()
            cols.write(prose(50 + n, 14))
    pdf.output(str(target))


def scanned_pdf(target: Path, pages: int = 1) -> Path:
    """An image-only PDF (no text layer at all): every page must be OCR'd."""
    page = text_image((1700, 2200), (OCR_PHRASE, "Lorem ipsum dolor sit amet", SENTENCE))
    page.save(target, "PDF", resolution=200, save_all=True, append_images=[page] * (pages - 1))
    return target


def _encrypted_pdf(target: Path, user: str, owner: str) -> None:
    import pikepdf

    with tempfile.TemporaryDirectory() as tmp:
        plain = text_pdf(Path(tmp) / "plain.pdf", pages=2, seed=7)
        with pikepdf.open(plain) as pdf:
            pdf.save(target, encryption=pikepdf.Encryption(user=user, owner=owner, R=6,
                                                           allow=pikepdf.Permissions(extract=False)))


def owner_password_pdf(target: Path) -> None:
    """Copy protection only: the empty user password opens it."""
    _encrypted_pdf(target, user="", owner="owner-secret")


def user_password_pdf(target: Path) -> None:
    """Needs a password to open: refused as password protected."""
    _encrypted_pdf(target, user="user-secret", owner="owner-secret")


def broken_xref_pdf(target: Path) -> None:
    """A text PDF whose cross-reference table points at the wrong bytes: readers must repair."""
    with tempfile.TemporaryDirectory() as tmp:
        data = bytearray(text_pdf(Path(tmp) / "plain.pdf", pages=2, seed=9).read_bytes())
    xref = data.rfind(b"\nxref")
    start = data.find(b"0000", xref)
    # Shift every in-use object offset by 7 bytes.
    for m in range(start, len(data) - 20, 20):
        entry = data[m:m + 20]
        if entry.endswith((b" n\r\n", b" n \n", b" n\n")) and entry[:10].isdigit():
            data[m:m + 10] = b"%010d" % (int(entry[:10]) + 7)
        elif not entry[:10].isdigit():
            break
    target.write_bytes(bytes(data))


# --- images ---------------------------------------------------------------------------------


def png_image(target: Path) -> None:
    text_image().save(target, "PNG")


def jpg_image(target: Path) -> None:
    text_image().save(target, "JPEG", quality=90)


# --- Office ---------------------------------------------------------------------------------


def docx_tables(target: Path) -> None:
    import docx

    doc = docx.Document()
    doc.core_properties.title, doc.core_properties.author = "Station Table", "Ana Ruiz"
    doc.core_properties.created = DATE.replace(tzinfo=None)
    doc.add_heading("Station Measurements", level=1)
    doc.add_paragraph(f"{SENTENCE}. The table lists each station.")
    table = doc.add_table(rows=4, cols=3)
    for r, row in enumerate([("Header Station", "Header Depth", "Header Rate"),
                             ("North Ridge", "12.5", "0.8"), ("South Basin", "7.25", "1.1"),
                             ("East Moraine", "3.0", "0.4")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    doc.save(str(target))


def long_docx(target: Path, pages: int = 300) -> None:
    """Hundreds of pages: a heading, three paragraphs and an explicit page break per page."""
    import docx
    from docx.enum.text import WD_BREAK

    doc = docx.Document()
    doc.core_properties.title = "Trustee Handbook"
    for n in range(1, pages + 1):
        doc.add_heading(f"Chapter {n} Trustee Duties", level=1)
        for k in range(3):
            doc.add_paragraph(prose(n * 10 + k, 5))
        if n % 25 == 0:
            table = doc.add_table(rows=2, cols=2)
            table.cell(0, 0).text, table.cell(0, 1).text = "Fee", "Amount"
            table.cell(1, 0).text, table.cell(1, 1).text = "Filing", f"${n}"
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.save(str(target))


def pptx_slides(target: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    prs.core_properties.title = "Fruit Sales"
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Fruit Sales by Quarter"
    rows = [("Fruit", "Q1", "Q2"), ("Tangerine", "120", "135"), ("Apple", "98", "101")]
    table = slide.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    bullets = prs.slides.add_slide(prs.slide_layouts[1])
    bullets.shapes.title.text = "Adding a Bullet Slide"
    bullets.placeholders[1].text_frame.text = "Find the bullet slide layout"
    prs.save(str(target))


def malformed_pptx(target: Path) -> None:
    """A pptx whose presentation points at a part the package lacks (as broken exporters
    leave them): the slide text is still there to read."""
    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp) / "good.pptx"
        pptx_slides(good)
        with zipfile.ZipFile(good) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == "ppt/_rels/presentation.xml.rels":
                    data = data.replace(b"</Relationships>", (
                        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/'
                        b'2006/relationships/commentAuthors" Target="commentAuthors.xml"/></Relationships>'))
                zout.writestr(info, data)


def xlsx_workbook(target: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.properties.creator, wb.properties.created = "Ana Ruiz", DATE.replace(tzinfo=None)
    ws = wb.active
    ws.title = "Segments"
    ws.append(["Segment", "Revenue", "Margin"])
    for i, seg in enumerate(["North", "South", "East", "West"]):
        ws.append([seg, 1000 + 250 * i, 0.1 + i / 100])
    second = wb.create_sheet("Half Year")
    second.append(["Half", "Revenue"])
    second.append(["H1", 4200])
    wb.save(str(target))


def password_xlsx(target: Path) -> None:
    """A CDFV2-encrypted workbook, as Excel writes one with "Encrypt with Password"."""
    import msoffcrypto.format.ooxml

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.xlsx"
        xlsx_workbook(plain)
        with plain.open("rb") as fin, target.open("wb") as fout:
            msoffcrypto.format.ooxml.OOXMLFile(fin).encrypt("secret", fout)


def _soffice(source_maker: Callable[[Path], None], suffix: str, fmt: str) -> Callable[[Path], None]:
    """Legacy Office formats come from LibreOffice's own export of a generated modern file."""

    def make(target: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / f"{target.stem}{suffix}"
            source_maker(src)
            subprocess.run([soffice(), "--headless", f"-env:UserInstallation=file://{tmp}/profile",
                            "--convert-to", fmt, "--outdir", tmp, str(src)],
                           check=True, capture_output=True, timeout=180)
            shutil.move(str(Path(tmp) / f"{target.stem}.{fmt}"), target)

    return make


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


# --- pandoc: odt, rtf, epub -----------------------------------------------------------------


def pandoc_document(target: Path, fmt: str, body: str = f"# Glacier Survey\n\n{SENTENCE}.",
                    title: str = "Glacier Survey", author: str | None = None) -> Path:
    """pypandoc-binary's bundled pandoc writes odt/rtf/epub/docx from Markdown."""
    import pypandoc

    args = ["--standalone", f"--metadata=title:{title}"] + ([f"--metadata=author:{author}"] if author else [])
    pypandoc.convert_text(body, fmt, format="md", outputfile=str(target), extra_args=args)
    return target


_PANDOC_BODY = (f"# Glacier Survey\n\n{SENTENCE}.\n\n- my favorite things\n- maps\n\n"
                "| Station | Depth |\n|---|---|\n| North | 12 |\n")


# --- text formats and encodings ---------------------------------------------------------------


def csv_long_lines(target: Path) -> None:
    rng = random.Random(3)
    lines = ["id,metric,description"]
    for i in range(200):
        lines.append(f"{i},SpearmanCorrelationCoefficient,\"{prose(i, 12)} {rng.random():.6f}\"")
    target.write_text("\n".join(lines) + "\n")


def tsv_crlf(target: Path) -> None:
    target.write_bytes(b"Year\tWinner\tRunner-up\r\n2019\tBlues\tBruins\r\n2020\tLightning\tStars\r\n")


def html_cp1252(target: Path) -> None:
    html = ("<html><head><title>Gr\u00fc\u00dfe</title></head><body><h1>Die sch\u00f6ne Frau</h1>"
            "<p>Die sch\u00f6ne Frau tr\u00e4gt \u201eGr\u00fc\u00dfe\u201c aus K\u00f6ln \u2013 "
            "und das Caf\u00e9 ist ge\u00f6ffnet.</p></body></html>")
    target.write_bytes(html.encode("cp1252"))


def xml_file(target: Path) -> None:
    target.write_text('<?xml version="1.0"?>\n<factbook><country><name>United States</name>'
                      "<capital>Washington</capital></country><country><name>Canada</name>"
                      "<capital>Ottawa</capital></country></factbook>\n")


def markdown_utf8(target: Path) -> None:
    target.write_text("# Code Blocks\n\nAn example program:\n\n```python\nprint('Hello, World')\n```\n\n"
                      "Weiter geht's mit Grüßen aus Köln.\n", encoding="utf-8")


def markdown_latin1(target: Path) -> None:
    target.write_bytes("# Umlaute\n\nWir können schöne Grüße senden.\n".encode("latin-1"))


def rst_file(target: Path) -> None:
    target.write_text("Example Docs\n============\n\nThe sample documents are for **testing**.\n\n"
                      "Section\n-------\n\n* one item\n* another item\n")


def txt_utf8(target: Path) -> None:
    target.write_text(f"Field Notes\n\n{SENTENCE}. {prose(11, 12)}\n", encoding="utf-8")


# One sentence per script; the English one is what the tests look for.
LANGUAGES = {
    "English": "All human beings are born free and equal in dignity and rights.",
    "French": "Tous les êtres humains naissent libres et égaux en dignité et en droits.",
    "German": "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
    "Russian": "Все люди рождаются свободными и равными в своем достоинстве и правах.",
    "Greek": "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα δικαιώματα.",
    "Arabic": "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق.",
    "Hebrew": "כל בני האדם נולדו בני חורין ושווים בערכם ובזכויותיהם.",
    "Hindi": "सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता प्राप्त है।",
    "Chinese": "人人生而自由，在尊严和权利上一律平等。",
    "Japanese": "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。",
    "Korean": "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다.",
    "Thai": "มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกันในเกียรติศักดิ์และสิทธิ",
}


def txt_languages(target: Path) -> None:
    target.write_text("\n\n".join(f"{name}\n{line}" for name, line in LANGUAGES.items()) + "\n", encoding="utf-8")


def empty_file(target: Path) -> None:
    target.write_bytes(b"")


def tiny_junk(target: Path) -> None:
    target.write_bytes(b"abc12\n")


# --- e-mail ---------------------------------------------------------------------------------


def _email(subject: str, body: str, charset: str = "utf-8"):
    from email.message import EmailMessage
    from email.utils import format_datetime

    msg = EmailMessage()
    msg["From"] = "Ana Ruiz <ana@example.org>"
    msg["To"] = "Survey Team <team@example.org>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(DATE)
    msg["Message-ID"] = "<glacier-survey-1@example.org>"
    msg.set_content(body, charset=charset)
    return msg


def eml_plain(target: Path) -> None:
    msg = _email("Glacier survey results", f"Hello team,\n\n{SENTENCE}. {prose(21, 4)}\n\nAna\n")
    target.write_bytes(bytes(msg))


HEBREW = "שלום לכולם, הפגישה תתקיים מחר בבוקר במשרד הראשי ואני מקווה שזה יהיה קצר"


def eml_legacy_headers(target: Path) -> None:
    """Headers RFC 2047-encoded in windows-1255 and a windows-1255 body, as older mail clients
    sent Hebrew; with Received: headers a wrong parser would index."""
    from email.header import Header

    msg = _email("placeholder", f"{HEBREW}.\n{HEBREW}.\n", charset="windows-1255")
    msg.replace_header("Subject", Header("RE: שלום", "windows-1255").encode())
    msg.replace_header("From", f"{Header('תמר ארז', 'windows-1255').encode()} <tamar@example.org>")
    msg["Received"] = "from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.org"
    target.write_bytes(bytes(msg))


def eml_encrypted(target: Path) -> None:
    """PGP/MIME (RFC 3156): multipart/encrypted with an armored body nobody can read."""
    target.write_text(
        "From: Ana Ruiz <ana@example.org>\nTo: Survey Team <team@example.org>\n"
        "Subject: Encrypted survey\nDate: Fri, 01 Mar 2024 09:30:00 +0000\n"
        "Message-ID: <encrypted-1@example.org>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"\n\n'
        "--b1\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
        '--b1\nContent-Type: application/octet-stream; name="encrypted.asc"\n\n'
        "-----BEGIN PGP MESSAGE-----\n\nhQEMA0Xq3J5Yy8p0AQf/Z2xhY2llcnMgcmV0cmVhdGVk\n=abcd\n"
        "-----END PGP MESSAGE-----\n\n--b1--\n")


def email_as_txt(target: Path) -> None:
    """A multipart/alternative message saved under .txt, MIME-Version first as mail clients save
    them: the content, not the name, makes it an e-mail."""
    body = f"This is a test email to use for unit tests.\n\n{prose(23, 3)}\n"
    text = (
        "MIME-Version: 1.0\nDate: Fri, 01 Mar 2024 09:30:00 +0000\n"
        "Message-ID: <saved-as-text-1@example.org>\nSubject: This is a test email\n"
        "From: Ana Ruiz <ana@example.org>\nTo: Survey Team <team@example.org>\n"
        'Content-Type: multipart/alternative; boundary="alt"\n\n'
        f'--alt\nContent-Type: text/plain; charset="UTF-8"\n\n{body}\n'
        f'--alt\nContent-Type: text/html; charset="UTF-8"\n\n<div dir="ltr">{body}</div>\n--alt--\n'
    )
    target.write_bytes(text.replace("\n", "\r\n").encode())


# MAPI property types and ids of an Outlook message ([MS-OXMSG], [MS-OXPROPS]).
_STRING, _BINARY, _INT32, _TIME = 0x001F, 0x0102, 0x0003, 0x0040


def _msg_properties(props: list[tuple[int, int, object]], header: bytes) -> dict[str, bytes]:
    """The __properties_version1.0 stream of one storage and a __substg1.0_ stream per
    variable-length property: (property id, type, value)."""
    table, streams = bytearray(header), {}
    for pid, ptyp, value in props:
        if ptyp in (_STRING, _BINARY):
            data = value.encode("utf-16-le") if ptyp == _STRING else value
            streams[f"__substg1.0_{pid:04X}{ptyp:04X}"] = data
            # A string's size counts its terminator, which the stream leaves out.
            table += struct.pack("<HHIII", ptyp, pid, 6, len(data) + (2 if ptyp == _STRING else 0), 0)
        else:
            table += struct.pack("<HHIQ", ptyp, pid, 6, value)
    streams["__properties_version1.0"] = bytes(table)
    return streams


def outlook_msg(target: Path) -> None:
    """An Outlook .msg (CFB with MAPI properties) with a recipient and a text attachment."""
    from tests.ole_writer import OUTLOOK_MSG_CLSID, write_cfb

    sender = '"Ana Ruiz" <ana@example.org>'
    headers = (f"From: {sender}\r\nTo: Survey Team <team@example.org>\r\nSubject: Survey with attachment\r\n"
               "Date: Fri, 01 Mar 2024 09:30:00 +0000\r\nMessage-ID: <outlook-1@example.org>\r\n"
               "Content-Type: multipart/mixed\r\n\r\n")
    filetime = int((DATE.timestamp() + 11644473600) * 10_000_000)  # 100 ns since 1601
    body = f"Here's the attachments for the survey. {SENTENCE}. {prose(31, 3)}"
    streams = _msg_properties([
        (0x001A, _STRING, "IPM.Note"), (0x0037, _STRING, "Survey with attachment"),
        (0x1000, _STRING, body), (0x007D, _STRING, headers), (0x0039, _TIME, filetime),
        (0x0C1A, _STRING, "Ana Ruiz"), (0x0C1F, _STRING, "ana@example.org"),
        (0x3FDE, _INT32, 65001), (0x340D, _INT32, 0x00040000),  # UTF-8 codepage; Unicode store
    ], struct.pack("<8x4I8x", 1, 1, 1, 1))
    recipient = _msg_properties([
        (0x3001, _STRING, "Survey Team"), (0x3003, _STRING, "team@example.org"),
        (0x39FE, _STRING, "team@example.org"), (0x0C15, _INT32, 1),
    ], bytes(8))
    attachment = _msg_properties([
        (0x3707, _STRING, "stations.txt"), (0x3704, _STRING, "stations.txt"), (0x370E, _STRING, "text/plain"),
        (0x3705, _INT32, 1), (0x3701, _BINARY, b"North Ridge station: 12.5 metres of retreat.\n"),
    ], bytes(8))
    for prefix, part in (("__recip_version1.0_#00000000", recipient), ("__attach_version1.0_#00000000", attachment)):
        streams.update({f"{prefix}/{name}": data for name, data in part.items()})
    write_cfb(target, streams, root_clsid=OUTLOOK_MSG_CLSID)


# --- large files ----------------------------------------------------------------------------


def large_pdf(target: Path) -> None:
    # Many pages, little text on each: the page count is what is large, not the embedding work.
    text_pdf(target, pages=640, seed=5, sentences=1)


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                       (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + sym, n - value
    return out


def book_txt(target: Path, chapters: int = 340) -> None:
    """About 2 MB of plain text: "CHAPTER <roman>" headings and hard-wrapped paragraphs."""
    import textwrap

    parts = []
    for c in range(1, chapters + 1):
        parts.append(f"CHAPTER {_roman(c)}\n\n")
        for p in range(12):
            para = prose(c * 100 + p, 7) + (" Natasha laughed." if p == 0 else "")
            parts.append(textwrap.fill(para, 70) + "\n\n")
    target.write_text("".join(parts))


def large_html(target: Path, sections: int = 1200) -> None:
    """About 2.5 MB of HTML, mostly markup (inline styles on every element, as exported
    filings have it): a heading, a paragraph and a table per section."""
    style = "margin:0pt;text-align:justify;font-family:'Times New Roman',Times,serif;font-size:10pt;color:#000000"
    cell = f'<td style="{style};padding:0 4pt;border-bottom:1px solid #000000;vertical-align:bottom">'
    parts = ["<html><head><title>Annual Report</title></head><body><h1>Form 10-K Annual Report</h1>"]
    for s in range(1, sections + 1):
        parts.append(f'<div style="{style}"><h2 style="{style};font-weight:bold">Item {s}. Operations</h2>')
        parts.append(f'<p style="{style}"><span style="{style}">{prose(s, 4)}</span></p>')
        rows = "".join(f"<tr>{cell}{label}</td>{cell}{value}</td></tr>"
                       for label, value in (("Segment", "Revenue"), (f"Unit {s}", s * 1000), ("Total", s * 1100)))
        parts.append(f'<table style="border-collapse:collapse;width:100%">{rows}</table></div>')
    parts.append("</body></html>")
    target.write_text("\n".join(parts))


# --- the corpus -----------------------------------------------------------------------------

MAKERS: dict[str, Callable[[Path], None]] = {
    # PDFs: text layer over several page ranges, scan, encryption, broken structure
    "field-manual-7p.pdf": lambda p: text_pdf(p, pages=7),
    "two-columns-2p.pdf": two_column_pdf,
    "scan-no-text-layer.pdf": scanned_pdf,
    "owner-password-only.pdf": owner_password_pdf,
    "user-password.pdf": user_password_pdf,
    "broken-xref.pdf": broken_xref_pdf,
    # images (OCR)
    "scan.png": png_image,
    "photo.jpg": jpg_image,
    # Office, legacy Office (LibreOffice), open formats (pandoc)
    "tables.docx": docx_tables,
    "slides.pptx": pptx_slides,
    "slides-malformed.pptx": malformed_pptx,
    "segments.xlsx": xlsx_workbook,
    "password-protected.xlsx": password_xlsx,
    "legacy.doc": _soffice(docx_tables, ".docx", "doc"),
    "legacy.ppt": _soffice(pptx_slides, ".pptx", "ppt"),
    "legacy.xls": _soffice(xlsx_workbook, ".xlsx", "xls"),
    "survey.odt": lambda p: pandoc_document(p, "odt", _PANDOC_BODY),
    "survey.rtf": lambda p: pandoc_document(p, "rtf", _PANDOC_BODY),
    "survey.epub": lambda p: pandoc_document(p, "epub", _PANDOC_BODY, author="Ana Ruiz"),
    # text formats and encodings
    "long-lines.csv": csv_long_lines,
    "cups.tsv": tsv_crlf,
    "cp1252.html": html_cp1252,
    "factbook.xml": xml_file,
    "codeblock.md": markdown_utf8,
    "umlauts-latin1.md": markdown_latin1,
    "README.rst": rst_file,
    "notes.txt": txt_utf8,
    "languages.txt": txt_languages,
    # bad inputs
    "empty.txt": empty_file,
    "junk_without_extension": tiny_junk,
    # e-mail
    "plain.eml": eml_plain,
    "legacy-headers.eml": eml_legacy_headers,
    "encrypted.eml": eml_encrypted,
    "email-saved-as.txt": email_as_txt,
    "outlook.msg": outlook_msg,
    # large
    "manual-640p.pdf": large_pdf,
    "handbook-300p.docx": long_docx,
    "book-2mb.txt": book_txt,
    "filing-2mb.html": large_html,
}
NEEDS_SOFFICE = {"legacy.doc", "legacy.ppt", "legacy.xls"}
LARGE = {"manual-640p.pdf", "handbook-300p.docx", "book-2mb.txt", "filing-2mb.html"}


class MadeCorpus:
    """``corpus / name`` makes the file on first use and returns its path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        return sorted(MAKERS)

    def unavailable(self, name: str) -> str | None:
        """Why ``name`` cannot be made on this machine, or None."""
        if name in NEEDS_SOFFICE and soffice() is None:
            return f"{name} is made by LibreOffice (soffice), which is not installed (make system-deps)"
        return None

    def __truediv__(self, name: str) -> Path:
        path = self.root / name
        if not path.exists():
            reason = self.unavailable(name)
            if reason:
                pytest.skip(reason)
            part = self.root / f".{name}.part{path.suffix}"
            MAKERS[name](part)
            part.rename(path)
        return path
