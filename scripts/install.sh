#!/usr/bin/env bash
# Create .venv and install every DocuMind package with pinned dependencies.
# Idempotent: re-running only installs what changed. Offline-safe: models come from packages.
#
# Settings (environment): PYTHON (the interpreter, default: python3.11, else python3),
# VENV (default .venv), DOCUMIND_TORCH_INDEX_URL (where the CPU build of torch comes from when
# pip's own sources, e.g. PIP_FIND_LINKS, do not hold it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PIP="$VENV/bin/pip"
C="-c requirements/constraints.txt"
TORCH=2.13.0
TORCH_INDEX_URL=${DOCUMIND_TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}

say() { echo "install: $*" >&2; }
die() { say "error: $*"; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

# 1. A Python 3.11 (any patch release: Debian 12's 3.11.2 included). The pins are resolved and
#    tested for 3.11 only; another minor version is refused here rather than half-installed.
pick_python() {
  local cand
  for cand in ${PYTHON:-} python3.11 python3; do
    [ -n "$cand" ] && command -v "$cand" >/dev/null || continue
    if "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then echo "$cand"; return 0; fi
  done
  return 1
}
if [ ! -x "$VENV/bin/python" ]; then
  PY=$(pick_python) || die "DocuMind needs Python 3.11 (found: $(python3 --version 2>&1 || echo none)).
  Debian 12:      apt-get install python3 python3-venv            (3.11.2)
  Ubuntu 22.04/24.04: add the deadsnakes PPA, then apt-get install python3.11 python3.11-venv
  any system:     uv python install 3.11, then PYTHON=\$(uv python find 3.11) make demo"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    # Debian and Ubuntu ship venv's pip bootstrap separately.
    rm -rf "$VENV"
    minor=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    say "python$minor has no venv module; installing python$minor-venv"
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$minor-venv"; } \
      || die "$PY cannot create a virtual environment: install python$minor-venv (apt-get install python$minor-venv) as root"
    "$PY" -m venv "$VENV"
  fi
fi
"$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "$VENV was made with $("$VENV/bin/python" --version); remove it (rm -rf $VENV) and run again"

# 2. torch: the CPU build, by its local version label, so no resolver can swap in the multi-GB
#    CUDA build that PyPI serves for Linux x86-64. pip's own sources first (a wheel in
#    PIP_FIND_LINKS works offline), else PyTorch's CPU index. Its dependencies come from the
#    pinned install below.
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__ != '$TORCH+cpu')" 2>/dev/null; then
  "$PIP" install -q --no-deps --no-index "torch==$TORCH+cpu" 2>/dev/null \
    || "$PIP" install -q --no-deps --index-url "$TORCH_INDEX_URL" "torch==$TORCH+cpu" \
    || die "could not install the CPU build of torch $TORCH from $TORCH_INDEX_URL: set DOCUMIND_TORCH_INDEX_URL, or PIP_FIND_LINKS to a folder holding torch-$TORCH+cpu"
fi
"$PIP" install -q $C \
    -e third_party/en_core_web_sm \
    -e "shared[models]" \
    -e services/ingest -e services/embed -e services/search \
    -e services/validate -e services/maintenance \
    -r requirements/dev.txt
# unstructured's PDF/image path imports unstructured_inference, whose own deps pull a CUDA
# torchvision; its code is all we need, so install it without deps. Last, so that pip's
# closing check does not list the deps we leave out as an ERROR.
"$PIP" install -q --no-deps unstructured-inference==1.6.14

# The int8 ONNX Runtime export of the packaged model: what the default encoder backend
# (DOCUMIND_ENCODER_BACKEND=onnx-int8) runs. Built here, offline from the package's files, into
# the venv (share/documind/encoders); a no-op when it is up to date.
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VENV/bin/documind" model build-default \
  || die "could not build the int8 ONNX export of the embedding model (see above)"

# 3. Prove it: the CPU torch, no CUDA runtime pulled in by anything.
"$VENV/bin/python" - <<'EOF' || die "the venv does not hold the CPU build of torch (see above); rm -rf $VENV and run again"
import sys
from importlib.metadata import distributions
import torch
cuda = sorted(d.metadata["Name"] for d in distributions() if d.metadata["Name"].lower().startswith(("nvidia-", "triton")))
if torch.version.cuda is not None or cuda:
    sys.exit(f"torch {torch.__version__} (CUDA {torch.version.cuda}); CUDA packages: {', '.join(cuda) or 'none'}")
EOF
echo "installed into $VENV ($("$VENV/bin/python" --version), torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
