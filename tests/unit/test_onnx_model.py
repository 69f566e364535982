"""The ONNX Runtime backend of the encoder: exported offline from the packaged model (fp32 and
dynamic int8), its vectors against sentence-transformers' own on real sentences, batching and
padding, truncation, and clear errors for a bad or missing export.

The exports are made once per session (each takes a while) into a temp folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from documind.embedding import Encoder, model_path
from documind.onnx_model import CONFIG_FILE, MODEL_FILE, OnnxModelError, export

BASE = "all-MiniLM-L6-v2"

SENTENCES = [
    "Tide pools hold anemones, sea stars and small crabs between the tides.",
    "The invoice is due within thirty days of the delivery date.",
    "Mitochondria are the site of oxidative phosphorylation in eukaryotic cells.",
    "A lighthouse keeper trimmed the lamp wick every evening before the fog rolled in.",
    "Quarterly revenue grew 12% while operating costs stayed flat.",
    "short",
    "Der Vertrag endet automatisch, wenn er nicht gekündigt wird.",
    "Patients receiving the drug showed reduced blood pressure after six weeks of treatment.",
    "def encode(texts): return model(texts)",
    "The committee postponed the vote until the next session, citing missing figures.",
]
LONG = " ".join(["The history of the harbour town is long and full of ships, storms and trade."] * 60)


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("onnx-exports")
    source = model_path(BASE)
    return {
        "onnx-fp32": _made(export(source, root / "fp32", int8=False), root / "fp32"),
        "onnx-int8": _made(export(source, root / "int8", int8=True), root / "int8"),
    }


def _made(config, folder: Path) -> Path:  # noqa: ANN001 - OnnxConfig
    assert config.pooling == "mean" and config.normalize and config.max_seq_length == 256 and config.dimension == 384
    return folder


@pytest.fixture(scope="session")
def torch_vectors() -> np.ndarray:
    return Encoder(BASE).encode(SENTENCES + [LONG])


def onnx_encoder(folder: Path, backend: str, batch_size: int = 32) -> Encoder:
    return Encoder(f"{BASE}-{backend}", batch_size=batch_size, path=folder, dimension=384, backend=backend)


@pytest.mark.parametrize(("backend", "min_cosine"), [("onnx-fp32", 0.999), ("onnx-int8", 0.98)])
def test_vectors_match_sentence_transformers(
    exports: dict[str, Path], torch_vectors: np.ndarray, backend: str, min_cosine: float
) -> None:
    got = onnx_encoder(exports[backend], backend).encode(SENTENCES + [LONG])
    assert got.shape == torch_vectors.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = np.sum(got * torch_vectors, axis=1)
    assert float(cos.min()) > min_cosine, f"{backend}: cosines to torch {np.round(cos, 4)}"


def test_int8_export_quantizes_every_weight_matmul(exports: dict[str, Path]) -> None:
    import onnx

    ops = [n.op_type for n in onnx.load(str(exports["onnx-int8"] / MODEL_FILE)).graph.node]
    # 6 layers x (query, key, value, attention output, 2 feed-forward) weight matrices.
    assert ops.count("MatMulInteger") == 36, sorted(set(ops))
    fp32 = (exports["onnx-fp32"] / MODEL_FILE).stat().st_size
    int8 = (exports["onnx-int8"] / MODEL_FILE).stat().st_size
    assert int8 < 0.7 * fp32, (int8, fp32)  # the word embeddings (47 MB) stay float


@pytest.mark.parametrize("backend", ["onnx-fp32", "onnx-int8"])
def test_a_texts_vector_does_not_depend_on_its_batch(exports: dict[str, Path], backend: str) -> None:
    alone = onnx_encoder(exports[backend], backend, batch_size=1).encode(SENTENCES)
    # Batched with a long text: every short one is padded to 256 places.
    mixed = onnx_encoder(exports[backend], backend, batch_size=4).encode([LONG, *SENTENCES, LONG])[1:-1]
    # int8 runs one text at a time (activation ranges are per run), fp32 pads within the batch.
    assert float(np.max(1.0 - np.sum(alone * mixed, axis=1))) < 1e-5


def test_long_input_is_truncated_to_the_window_and_empty_input_is_encoded(exports: dict[str, Path]) -> None:
    enc = onnx_encoder(exports["onnx-fp32"], "onnx-fp32")
    assert enc.max_tokens == 256
    longer = LONG + " " + LONG  # identical in the first 256 word pieces
    a, b = enc.encode([LONG, longer])
    assert float(a @ b) > 0.99999
    empty = enc.encode(["", "   "])
    assert empty.shape == (2, 384) and np.all(np.isfinite(empty))
    assert enc.encode([]).shape == (0, 384)


def test_missing_or_broken_export_fails_clearly(exports: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(OnnxModelError, match="not an exported ONNX model"):
        onnx_encoder(tmp_path, "onnx-int8").encode(["x"])
    broken = tmp_path / "broken"
    shutil.copytree(exports["onnx-int8"], broken)
    (broken / MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(OnnxModelError, match="cannot load"):
        onnx_encoder(broken, "onnx-int8").encode(["x"])
    (broken / MODEL_FILE).unlink()
    with pytest.raises(OnnxModelError, match="model.onnx is missing"):
        onnx_encoder(broken, "onnx-int8").encode(["x"])
    (broken / CONFIG_FILE).write_text("{not json")
    with pytest.raises(OnnxModelError, match="unreadable"):
        onnx_encoder(broken, "onnx-int8").encode(["x"])
    with pytest.raises(ValueError, match="unknown encoder backend"):
        Encoder(BASE, backend="tensorrt")
    with pytest.raises(ValueError, match="needs an exported model folder"):
        Encoder(BASE, backend="onnx-int8")
    with pytest.raises(OnnxModelError, match="exists already"):
        export(model_path(BASE), exports["onnx-int8"], int8=True)


def test_installed_default_export_is_the_packaged_models_and_deterministic(
    exports: dict[str, Path], torch_vectors: np.ndarray
) -> None:
    """The export the install built (scripts/install.sh: `documind model build-default`), which
    the default backend runs: made from the package's files, the same vectors as a fresh export
    by the same recipe, and within 0.98 cosine of sentence-transformers' own."""
    from documind.embedding import packaged_encoder, packaged_export_dir
    from documind.onnx_model import build_packaged, exported_source

    installed = packaged_export_dir(BASE, "onnx-int8")
    assert exported_source(installed) == str(model_path(BASE))
    stamp = (installed / MODEL_FILE).stat().st_mtime_ns
    assert build_packaged(model_path(BASE), installed, backend="onnx-int8") is False  # up to date
    assert (installed / MODEL_FILE).stat().st_mtime_ns == stamp
    default = packaged_encoder(BASE, "onnx-int8")
    assert default.model_name == f"{BASE}-onnx-int8" and default.max_tokens == 256
    got = default.encode(SENTENCES + [LONG])
    fresh = onnx_encoder(exports["onnx-int8"], "onnx-int8").encode(SENTENCES + [LONG])
    assert float(np.max(np.abs(got - fresh))) < 1e-6
    cos = np.sum(got * torch_vectors, axis=1)
    assert float(cos.min()) > 0.98, np.round(cos, 4)


def test_build_packaged_replaces_a_stale_export_by_a_rename(exports: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "encoders" / f"{BASE}-onnx-int8"
    shutil.copytree(exports["onnx-int8"], out)
    config = out / CONFIG_FILE
    config.write_text(config.read_text().replace(str(model_path(BASE)), "/an/older/package"))
    from documind.onnx_model import build_packaged, exported_source

    assert build_packaged(model_path(BASE), out, backend="onnx-int8") is True
    assert exported_source(out) == str(model_path(BASE))
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp or old folder left
    assert oct(out.stat().st_mode & 0o777) == "0o755"  # readable by an image's unprivileged user
    with pytest.raises(OnnxModelError, match="no export for backend"):
        build_packaged(model_path(BASE), out, backend="torch")
