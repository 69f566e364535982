"""A distributed ingest worker refuses to start when a configured Tesseract language pack is
missing (the embedded mode starts anyway: tests/integration/test_missing_tools.py)."""

from __future__ import annotations

import pytest

from documind_ingest.ocr_languages import OcrLanguagesMissing, check_ocr_languages, installed_languages


def test_missing_pack_is_one_clear_error() -> None:
    with pytest.raises(OcrLanguagesMissing) as exc:
        check_ocr_languages("eng+chi_sim+deu", available={"eng", "osd"})
    msg = str(exc.value)
    assert "DOCUMIND_OCR_LANGUAGES=eng+chi_sim+deu" in msg
    assert "missing for chi_sim, deu" in msg
    assert "tesseract-ocr-chi-sim tesseract-ocr-deu" in msg


def test_present_packs_pass() -> None:
    assert check_ocr_languages("eng+kor", available={"eng", "kor", "osd"}) == ["eng", "kor"]


def test_the_installed_tesseract_has_the_default_languages() -> None:
    # scripts/system-deps.sh installs a pack for every language of the default setting.
    from documind.settings import Settings

    have = installed_languages()
    assert "eng" in have
    check_ocr_languages(Settings.model_fields["ocr_languages"].default, available=have)


def test_distributed_worker_start_fails_without_the_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from documind.settings import RunMode
    from documind_ingest import worker

    runtime = SimpleNamespace(settings=SimpleNamespace(ocr_languages="eng+zzz", mode=RunMode.DISTRIBUTED))
    with pytest.raises(OcrLanguagesMissing, match="missing for zzz"):
        worker.register(runtime)  # type: ignore[arg-type]
