#!/usr/bin/env bash
# The README promises any Python 3.11, Debian 12's 3.11.2 included, and a CPU torch. A
# developer's own python3 may be newer (root's is a pyenv 3.11.7 on our machines), so build a
# throwaway venv from the system's interpreter and check there what install.sh promises.
set -euo pipefail
cd "$(dirname "$0")/.."
SYS=${SYSTEM_PYTHON:-/usr/bin/python3}
if ! { [ -x "$SYS" ] && "$SYS" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; }; then
  echo "check-system-python: no system Python 3.11 at $SYS; skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "check-system-python: installing into a fresh venv from $SYS ($("$SYS" --version))"
start=$SECONDS
if ! PYTHON="$SYS" VENV="$tmp/venv" bash scripts/install.sh >"$tmp/install.log" 2>&1; then
  grep -v "^WARNING: Location" "$tmp/install.log" | tail -40 >&2
  echo "check-system-python: install.sh failed with $SYS" >&2
  exit 1
fi
tail -1 "$tmp/install.log"
"$tmp/venv/bin/python" -m pytest -p no:cacheprovider -q tests/unit/test_environment.py tests/unit/test_system_tools.py
echo "check-system-python: passed in $((SECONDS - start)) s"
