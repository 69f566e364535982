"""DOCUMIND_ENCODER_BACKEND: what runs the packaged model (version 1). Its name carries the
backend when that is not torch, so vectors of the two backends are never taken for one model:
the registry resolves the base version on the configured backend as version 1 and the packaged
model on the other backend as version 0 (a collection made with it is still queried with it),
training starts from the package's torch files, and a missing install-time export fails with
the command that builds it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

from documind.embedding import (
    encoder_for, model_path, packaged_encoder, packaged_export_dir, packaged_version_name, parse_packaged,
    shared_encoder,
)
from documind.model_registry import build_registry
from documind.onnx_model import OnnxModelError
from documind.runtime import Runtime, build_runtime
from documind.settings import SettingsError, load_settings

BASE = "all-MiniLM-L6-v2"
INT8 = "all-MiniLM-L6-v2-onnx-int8"


def runtime_with(tmp_path: Path, **settings) -> Runtime:  # noqa: ANN003
    return build_runtime(load_settings(data_dir=tmp_path, worker_threads=1, **settings), configure_logs=False)


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = runtime_with(tmp_path)
    yield rt
    rt.close()


def test_names_of_the_packaged_model_per_backend() -> None:
    assert packaged_version_name(BASE, "torch") == BASE and packaged_version_name(BASE, "onnx-int8") == INT8
    assert parse_packaged(BASE) == (BASE, "torch") and parse_packaged(INT8) == (BASE, "onnx-int8")
    assert parse_packaged(f"{BASE}-onnx-int8-v3") is None and parse_packaged("other-onnx-int8") is None
    assert parse_packaged(f"{BASE}-ft-v2") is None


def test_default_backend_is_the_int8_export_and_a_bad_one_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings().encoder_backend == "onnx-int8"
    clean_env.setenv("DOCUMIND_ENCODER_BACKEND", "onnx-fp16")
    with pytest.raises(SettingsError, match="ENCODER_BACKEND"):
        load_settings()


def test_registry_on_the_default_backend(runtime: Runtime) -> None:
    registry = build_registry(runtime)
    base = registry.base()
    assert (base.version, base.name, base.backend, base.path) == (
        1, INT8, "onnx-int8", packaged_export_dir(BASE, "onnx-int8")
    )
    assert registry.active() == base and registry.by_name(INT8) == base
    # The packaged model on torch: another model to the index (version 0), still resolvable.
    other = registry.by_name(BASE)
    assert (other.version, other.name, other.backend, other.path) == (0, BASE, "torch", model_path(BASE))
    # Both are the packaged model to a caller configured with it (`documind search` sends it).
    assert registry.base_of(INT8) == BASE and registry.base_of(BASE) == BASE
    # Training and exporting start from the package's torch files.
    source = registry.torch_source(base)
    assert (source.version, source.name, source.backend, source.path) == (1, BASE, "torch", model_path(BASE))
    assert registry.list()[0]["name"] == INT8 and registry.list()[0]["backend"] == "onnx-int8"
    enc = encoder_for(runtime, base)
    assert enc is shared_encoder(runtime) and enc.backend == "onnx-int8" and enc.model_name == INT8
    torch_enc = encoder_for(runtime, other)
    assert torch_enc.backend == "torch" and torch_enc.model_name == BASE and torch_enc is not enc
    with pytest.raises(ValueError, match="unknown embedding model"):
        registry.by_name("no-such-model")


def test_registry_on_the_torch_backend(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rt = runtime_with(tmp_path, encoder_backend="torch")
    try:
        registry = build_registry(rt)
        base = registry.base()
        assert (base.version, base.name, base.backend, base.path) == (1, BASE, "torch", model_path(BASE))
        other = registry.by_name(INT8)  # a collection made on the default backend
        assert (other.version, other.backend, other.path) == (0, "onnx-int8", packaged_export_dir(BASE, "onnx-int8"))
        assert shared_encoder(rt).backend == "torch" and shared_encoder(rt).model_name == BASE
        assert encoder_for(rt, other).backend == "onnx-int8"
    finally:
        rt.close()


def test_a_missing_default_export_names_the_command_that_builds_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path))  # an environment where the install did not build it
    enc = packaged_encoder(BASE, "onnx-int8")
    with pytest.raises(OnnxModelError, match=r"not installed .*documind model build-default.*ENCODER_BACKEND=torch"):
        enc.encode(["x"])
