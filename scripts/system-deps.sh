#!/usr/bin/env bash
# Debian packages DocuMind's ingest service needs: Tesseract (OCR), poppler (PDF pages to
# images), libmagic (type detection), LibreOffice (legacy .doc/.ppt/.xls). Skips what exists.
set -euo pipefail
need=()
command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v soffice >/dev/null || need+=(libreoffice-core libreoffice-writer libreoffice-impress libreoffice-calc)
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || need+=(libmagic1)
if [ ${#need[@]} -eq 0 ]; then echo "system packages present"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
