"""A missing Tesseract or LibreOffice is a permanent, readable refusal naming the package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from documind.errors import PermanentError, ToolMissing
from documind_ingest import system_tools
from documind_ingest.system_tools import LIBREOFFICE, TESSERACT, missing_tools, require, require_ocr


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for cached in (system_tools._installed, system_tools._ocr_problem):
        cached.cache_clear()
    yield
    for cached in (system_tools._installed, system_tools._ocr_problem):
        cached.cache_clear()


def test_missing_programs_name_their_debian_packages(empty_path: None) -> None:
    with pytest.raises(ToolMissing, match=r"Tesseract is not installed .* apt-get install tesseract-ocr"):
        require(TESSERACT)
    with pytest.raises(ToolMissing, match=r"LibreOffice is not installed .* libreoffice-writer"):
        require(LIBREOFFICE)
    with pytest.raises(ToolMissing, match="scans and images"):
        require_ocr("eng")
    assert issubclass(ToolMissing, PermanentError)  # fails the document at once, never retried
    assert len(missing_tools("eng")) == 2


def test_missing_language_pack_refuses_ocr() -> None:
    if shutil.which(TESSERACT.program) is None:
        pytest.skip("tesseract is not installed here (make system-deps)")
    system_tools._ocr_problem.cache_clear()
    with pytest.raises(ToolMissing, match="OCR is not possible on this machine: .*missing for zzz"):
        require_ocr("eng+zzz")
    assert any("zzz" in line for line in missing_tools("eng+zzz"))
    require_ocr("eng")  # present: no error
