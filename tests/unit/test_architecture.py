"""Package boundaries: services never import each other, the shared package never imports a
service, and importing the shared package has no side effects and pulls in no heavy library."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO / "services"
SHARED_SRC = REPO / "shared" / "src"

SERVICE_PACKAGES = {
    "documind_ingest",
    "documind_embed",
    "documind_search",
    "documind_validate",
    "documind_maintenance",
}
HEAVY = ("torch", "sentence_transformers", "unstructured", "transformers")


def imported_top_packages(path: Path) -> set[str]:
    """Top-level names of every absolute import in the file, at any depth (lazy imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value.split(".")[0])
    return names


def _is_dynamic_import(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in {"import_module", "__import__"} and bool(node.args)


def service_sources() -> dict[str, list[Path]]:
    """Every .py under services/*/src, by the top-level package it belongs to."""
    found: dict[str, list[Path]] = {}
    for src in sorted(SERVICES_DIR.glob("*/src")):
        for path in sorted(src.rglob("*.py")):
            top = path.relative_to(src).parts[0]
            found.setdefault(top.removesuffix(".py"), []).append(path)
    return found


def test_the_scan_finds_every_service() -> None:
    found = service_sources()
    assert set(found) == SERVICE_PACKAGES
    assert all(found[name] for name in found)


def test_the_scanner_sees_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os.path\n"
        "from documind.x import y\n"
        "from . import sibling\n"
        "def f():\n"
        "    from documind_search.query import Q\n"
        "    import importlib\n"
        "    importlib.import_module('documind_embed.worker')\n"
    )
    assert imported_top_packages(sample) == {"os", "documind", "documind_search", "importlib", "documind_embed"}


@pytest.mark.parametrize("service", sorted(SERVICE_PACKAGES))
def test_services_do_not_import_each_other(service: str) -> None:
    sources = service_sources()[service]
    others = SERVICE_PACKAGES - {service}
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_top_packages(path) & others) for path in sources
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_shared_package_imports_no_service() -> None:
    sources = sorted((SHARED_SRC / "documind").rglob("*.py"))
    assert sources
    offenders = {
        str(path.relative_to(REPO)): sorted(
            name for name in imported_top_packages(path) if name.startswith("documind_")
        )
        for path in sources
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


IMPORT_ALL = f"""
import importlib, json, pkgutil, sys
import documind
names = []
for info in pkgutil.walk_packages(documind.__path__, "documind."):
    importlib.import_module(info.name)
    names.append(info.name)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"modules": names, "heavy": heavy}}))
"""


def test_importing_documind_has_no_side_effects(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCUMIND_")}
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    # The walk really imported the package's modules.
    for expected in ("documind.settings", "documind.runtime", "documind.db.models", "documind.tasks",
                     "documind.embedding", "documind.cli", "documind.middleware.deliveries"):
        assert expected in report["modules"]
    assert report["heavy"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []
