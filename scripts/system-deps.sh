#!/usr/bin/env bash
# Debian packages DocuMind's ingest service needs: Tesseract (OCR) with a language pack for
# every language in DOCUMIND_OCR_LANGUAGES (default eng+kor, as in documind.settings),
# poppler (PDF pages to images), libmagic (type detection), LibreOffice (legacy
# .doc/.ppt). Skips what exists. (epub/odt/rtf use pypandoc-binary's bundled pandoc.)
#
# --best-effort (what `make demo` uses): where the packages cannot be installed (not root, no
# sudo, no apt), say what will not work and succeed anyway; the embedded mode then fails only
# the documents that need a missing program, naming its package.
#
# --validators (what `make test`, `make check-deploy` and CI use): also promtool (Debian
# package prometheus), which tests/deploy/ runs on the Prometheus configuration and alert
# rules, and the monitoring tests on the workers' and the collector's metrics pages.
set -euo pipefail
best_effort=false
validators=false
for arg in "$@"; do
  case "$arg" in
    --best-effort) best_effort=true ;;
    --validators) validators=true ;;
    *) echo "system-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

need=()
command -v tesseract >/dev/null || need+=(tesseract-ocr)
langs="${DOCUMIND_OCR_LANGUAGES:-eng+kor}"
for lang in ${langs//+/ }; do
  pack="tesseract-ocr-${lang//_/-}"
  dpkg-query -W -f='${Status}' "$pack" 2>/dev/null | grep -q "install ok installed" || need+=("$pack")
done
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v soffice >/dev/null || need+=(libreoffice-core libreoffice-writer libreoffice-impress libreoffice-calc)
if $validators; then command -v promtool >/dev/null || need+=(prometheus); fi
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || need+=(libmagic1)
if [ ${#need[@]} -eq 0 ]; then echo "system packages present"; exit 0; fi

cannot() {
  if $best_effort; then
    cat >&2 <<EOF
system-deps: $1, so these Debian packages are not installed: ${need[*]}
  Everything else works; scans and images (Tesseract) and legacy .doc/.ppt (LibreOffice)
  will fail with a reason naming the package. To add them later, as root: make system-deps
EOF
    exit 0
  fi
  echo "system-deps: $1; install as root: apt-get install ${need[*]}" >&2
  exit 1
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || cannot "not root and no sudo"
  # On a terminal sudo may ask for a password; elsewhere only a password-less sudo will do.
  if [ -t 0 ]; then SUDO=(sudo); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else cannot "sudo needs a password and there is no terminal"; fi
fi
command -v apt-get >/dev/null || cannot "this is not a Debian/Ubuntu system (no apt-get)"
echo "system-deps: installing ${need[*]}" >&2
"${SUDO[@]}" apt-get update -qq || cannot "apt-get update failed"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
  || cannot "apt-get install failed"
