"""The programs outside Python that some documents need: Tesseract for scans and images,
LibreOffice for legacy .doc/.ppt/.xls. A machine may lack them (a laptop where the
Quickstart could not install Debian packages): the documents that need one then fail with a
reason naming the package, and every other document goes through.

Looked up once per process: installing a package later needs a worker restart, as any
other system change does."""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass

from documind.errors import ToolMissing

from documind_ingest.ocr_languages import OcrLanguagesMissing, check_ocr_languages


@dataclass(frozen=True)
class Tool:
    program: str
    name: str
    debian_packages: str
    needed_for: str


TESSERACT = Tool("tesseract", "Tesseract", "tesseract-ocr", "scans and images (OCR)")
LIBREOFFICE = Tool(
    "soffice", "LibreOffice", "libreoffice-core libreoffice-writer libreoffice-impress libreoffice-calc",
    "legacy Word and PowerPoint files (.doc, .ppt)",
)


def missing_message(tool: Tool) -> str:
    return (
        f"{tool.name} is not installed on this machine; it is needed for {tool.needed_for} "
        f"(Debian: apt-get install {tool.debian_packages}, or run `make system-deps`)"
    )


@functools.cache
def _installed(program: str) -> bool:
    return shutil.which(program) is not None


def require(tool: Tool) -> None:
    if not _installed(tool.program):
        raise ToolMissing(missing_message(tool))


@functools.cache
def _ocr_problem(languages: str) -> str | None:
    try:
        check_ocr_languages(languages)
    except OcrLanguagesMissing as exc:
        return str(exc)
    return None


def require_ocr(languages: str) -> None:
    """Tesseract with every configured language pack, or a permanent, readable refusal."""
    require(TESSERACT)
    problem = _ocr_problem(languages)
    if problem is not None:
        raise ToolMissing(f"OCR is not possible on this machine: {problem}")


def missing_tools(languages: str) -> list[str]:
    """One line per missing program or language pack (empty when everything is there)."""
    lines = [missing_message(t) for t in (TESSERACT, LIBREOFFICE) if not _installed(t.program)]
    if _installed(TESSERACT.program) and (problem := _ocr_problem(languages)) is not None:
        lines.append(problem)
    return lines
