#!/usr/bin/env bash
# Debian packages DocuMind's ingest service needs: Tesseract (OCR) with a language pack for
# every language in DOCUMIND_OCR_LANGUAGES (default eng+kor, as in documind.settings),
# poppler (PDF pages to images), libmagic (type detection), LibreOffice (legacy
# .doc/.ppt/.xls). Skips what exists. (epub/odt/rtf use pypandoc-binary's bundled pandoc.)
set -euo pipefail
need=()
command -v tesseract >/dev/null || need+=(tesseract-ocr)
langs="${DOCUMIND_OCR_LANGUAGES:-eng+kor}"
for lang in ${langs//+/ }; do
  pack="tesseract-ocr-${lang//_/-}"
  dpkg-query -W -f='${Status}' "$pack" 2>/dev/null | grep -q "install ok installed" || need+=("$pack")
done
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v soffice >/dev/null || need+=(libreoffice-core libreoffice-writer libreoffice-impress libreoffice-calc)
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || need+=(libmagic1)
if [ ${#need[@]} -eq 0 ]; then echo "system packages present"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
