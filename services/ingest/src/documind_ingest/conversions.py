"""Formats unstructured reads by way of an external program, converted here with a bounded
child (``bounded_child``) instead: unstructured starts LibreOffice (``convert_office_doc``)
and pandoc (pypandoc) with no time limit, and a hung converter would hold the worker forever.
The result is partitioned in-process exactly as unstructured's own partitioner would:

- .doc / .ppt: LibreOffice to .docx / .pptx, then ``partition_docx`` / ``partition_pptx``
- .epub / .rtf / .rst: pandoc to HTML, then ``partition_html``
- .odt: pandoc to .docx, then ``partition_docx``

Each LibreOffice run gets a private profile directory: two conversions sharing the default
profile join one office process (the second then waits on the first, or returns nothing)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from documind.errors import CorruptFile

from documind_ingest.bounded_child import run_bounded
from documind_ingest.system_tools import LIBREOFFICE, require

# xls: only Excel 95 workbooks (excel95.py); Excel 97+ is read without LibreOffice.
OFFICE_TARGETS = {"doc": "docx", "ppt": "pptx", "xls": "xlsx"}
PANDOC_HTML = {"epub", "rtf", "rst"}
PANDOC_DOCX = {"odt"}
CONVERTED_KINDS = {"doc", "ppt"} | PANDOC_HTML | PANDOC_DOCX


def partition_converted(path: Path, kind: str, *, timeout_s: float, **common: Any) -> list[Any]:
    """Elements of a ``CONVERTED_KINDS`` file; ``common`` are unstructured's partition keyword
    arguments (languages, metadata_filename)."""
    from unstructured.file_utils.model import FileType

    common.pop("content_type", None)
    common.pop("encoding", None)
    file_type = FileType[kind.upper()]
    with tempfile.TemporaryDirectory(prefix="documind-convert-") as tmp:
        if kind in ("doc", "ppt"):
            converted = libreoffice_convert(path, kind, Path(tmp), timeout_s=timeout_s)
            if kind == "doc":
                from unstructured.partition.docx import partition_docx as partition
            else:
                from unstructured.partition.pptx import partition_pptx as partition
            return partition(filename=str(converted), metadata_file_type=file_type, **common)
        if kind in PANDOC_DOCX:
            from unstructured.partition.docx import partition_docx

            converted = pandoc_convert(path, kind, "docx", Path(tmp), timeout_s=timeout_s)
            return partition_docx(filename=str(converted), metadata_file_type=file_type, **common)
        from unstructured.partition.html import partition_html

        html = pandoc_convert(path, kind, "html", Path(tmp), timeout_s=timeout_s).read_text("utf-8", "replace")
        return partition_html(text=html, metadata_file_type=file_type, **common)


def libreoffice_convert(path: Path, kind: str, out_dir: Path, *, timeout_s: float) -> Path:
    require(LIBREOFFICE)
    target = OFFICE_TARGETS[kind]
    source = out_dir / f"document.{kind}"  # stored copies have no extension; the output's name follows
    shutil.copyfile(path, source)
    profile = out_dir / "profile"
    done = run_bounded(
        [
            "soffice", "--headless", "--norestore", "--nolockcheck",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to", target, "--outdir", str(out_dir), str(source),
        ],
        timeout_s=timeout_s, tool="LibreOffice", task="converting",
    )
    result = out_dir / f"document.{target}"
    if done.returncode != 0 or not result.is_file():
        raise CorruptFile(f"could not read {kind} file: LibreOffice could not convert it{_last_line(done.stderr)}")
    return result


def pandoc_convert(path: Path, kind: str, target: str, out_dir: Path, *, timeout_s: float) -> Path:
    import pypandoc

    result = out_dir / f"document.{target}"
    done = run_bounded(
        [pypandoc.get_pandoc_path(), "--sandbox", f"--from={kind}", f"--to={target}", "-o", str(result), str(path)],
        timeout_s=timeout_s, tool="pandoc", task="converting",
    )
    if done.returncode != 0 or not result.is_file():
        raise CorruptFile(f"could not read {kind} file: pandoc could not convert it{_last_line(done.stderr)}")
    return result


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return f" ({lines[-1][:300]})" if lines else ""
