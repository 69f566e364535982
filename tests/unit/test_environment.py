"""What `scripts/install.sh` promises about the venv, checked on the venv the tests run in:
the CPU build of torch with no CUDA runtime beside it, and pins that install on every Python
3.11 the README names, down to Debian 12's 3.11.2 (soupsieve 4.x once broke that)."""

from __future__ import annotations

from importlib.metadata import distributions
from pathlib import Path

from packaging.specifiers import SpecifierSet

OLDEST_PYTHON = "3.11.2"  # Debian 12's python3
REPO = Path(__file__).resolve().parents[2]


def test_torch_is_the_cpu_build_without_cuda_packages() -> None:
    import torch

    assert torch.version.cuda is None, torch.__version__
    assert torch.__version__.endswith("+cpu"), torch.__version__
    cuda = [d.metadata["Name"] for d in distributions() if d.metadata["Name"].lower().startswith(("nvidia-", "triton"))]
    assert not cuda, cuda


def test_every_installed_pin_runs_on_the_oldest_supported_python() -> None:
    too_new = [
        f"{d.metadata['Name']} {d.version} requires Python {rp}"
        for d in distributions()
        if (rp := d.metadata.get("Requires-Python")) and not SpecifierSet(rp).contains(OLDEST_PYTHON)
    ]
    assert not too_new, too_new


def test_the_pins_are_the_installed_versions() -> None:
    # The check above reads installed packages; it covers the pins only while they agree.
    pins = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in distributions()}
    differ = {n: (v, installed[n]) for n, v in pins.items() if n in installed and installed[n].split("+")[0] != v}
    assert not differ, differ
