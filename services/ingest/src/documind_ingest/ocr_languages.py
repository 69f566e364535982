"""The Tesseract language packs ``DOCUMIND_OCR_LANGUAGES`` names must be installed: checked
when the ingest worker starts, so a missing pack is one clear line instead of a Tesseract
error on the first scan."""

from __future__ import annotations

import shutil

from documind_ingest.bounded_child import run_bounded


class OcrLanguagesMissing(RuntimeError):
    pass


def installed_languages(tesseract: str = "tesseract") -> set[str]:
    exe = shutil.which(tesseract)
    if exe is None:
        raise OcrLanguagesMissing(
            "tesseract is not installed (needed for scans and images): run scripts/system-deps.sh"
        )
    out = run_bounded([exe, "--list-langs"], timeout_s=30, tool="Tesseract", task="listing its languages")
    # First line is a header ("List of available languages in ...").
    return {line.strip() for line in out.stdout.decode("utf-8", "replace").splitlines()[1:] if line.strip()}


def check_ocr_languages(setting: str, available: set[str] | None = None) -> list[str]:
    wanted = [lang for lang in setting.split("+") if lang]
    have = installed_languages() if available is None else available
    missing = [lang for lang in wanted if lang not in have]
    if missing:
        packs = " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
        raise OcrLanguagesMissing(
            f"DOCUMIND_OCR_LANGUAGES={setting}: Tesseract language data missing for {', '.join(missing)} "
            f"(installed: {', '.join(sorted(have)) or 'none'}); install {packs} "
            "(scripts/system-deps.sh does) or change the setting"
        )
    return wanted
