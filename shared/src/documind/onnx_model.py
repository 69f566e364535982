"""The encoder as an ONNX Runtime model: exported offline from a sentence-transformers folder
(the packaged model or a fine-tuned version), optionally with dynamic int8 quantization, and
run with the model's own fast tokenizer and pooling.

An exported folder holds ``model.onnx`` (the transformer: input_ids, attention_mask,
token_type_ids -> last hidden state, dynamic batch and sequence axes), the tokenizer files and
``documind-onnx.json`` (backend, pooling, normalisation, window): everything the encoder needs,
nothing read from a hub. The pipeline is sentence-transformers' for the source model: strip,
tokenize with truncation to ``max_seq_length`` word pieces, transformer, pooling (mean over the
attention mask, or CLS), L2 normalisation when the source had a ``Normalize`` module.

Heavy imports (torch, onnx, onnxruntime, tokenizers) happen inside the functions.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

TORCH = "torch"
ONNX_FP32 = "onnx-fp32"
ONNX_INT8 = "onnx-int8"
BACKENDS = (TORCH, ONNX_FP32, ONNX_INT8)

MODEL_FILE = "model.onnx"
CONFIG_FILE = "documind-onnx.json"
# The ONNX operator set: 17 has LayerNormalization as one operator, which ORT fuses.
OPSET = 17


class OnnxModelError(ValueError):
    """A missing or unreadable exported model, or a source model this exporter cannot convert."""


@dataclass(frozen=True)
class OnnxConfig:
    backend: str
    pooling: str  # "mean" | "cls"
    normalize: bool
    max_seq_length: int
    dimension: int

    @classmethod
    def read(cls, folder: Path) -> "OnnxConfig":
        path = folder / CONFIG_FILE
        try:
            raw = json.loads(path.read_text())
            return cls(
                backend=str(raw["backend"]), pooling=str(raw["pooling"]), normalize=bool(raw["normalize"]),
                max_seq_length=int(raw["max_seq_length"]), dimension=int(raw["dimension"]),
            )
        except FileNotFoundError:
            raise OnnxModelError(f"{folder}: not an exported ONNX model (no {CONFIG_FILE})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise OnnxModelError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; known: {', '.join(BACKENDS)}")
    return backend


# ---- export ------------------------------------------------------------------------------------
def _pooling_of(st_model) -> tuple[str, bool]:  # noqa: ANN001 - SentenceTransformer
    """(pooling, normalize) of a Transformer -> Pooling [-> Normalize] pipeline, else an error."""
    from sentence_transformers.models import Normalize, Pooling, Transformer

    modules = list(st_model)
    if len(modules) not in (2, 3) or not isinstance(modules[0], Transformer) or not isinstance(modules[1], Pooling):
        raise OnnxModelError(
            f"cannot export {[type(m).__name__ for m in modules]}: only Transformer -> Pooling [-> Normalize]"
        )
    if len(modules) == 3 and not isinstance(modules[2], Normalize):
        raise OnnxModelError(f"cannot export a model ending in {type(modules[2]).__name__}")
    mode = modules[1].pooling_mode
    if mode not in ("mean", "cls"):
        raise OnnxModelError(f"cannot export pooling mode {mode!r}: only mean and cls")
    return mode, len(modules) == 3


def _dimension(pooling) -> int:  # noqa: ANN001 - sentence_transformers Pooling
    # Renamed in sentence-transformers 6 (the old name warns).
    get = getattr(pooling, "get_embedding_dimension", None) or pooling.get_sentence_embedding_dimension
    return int(get())


def export(source: Path, out: Path, *, int8: bool, threads: int = 0) -> OnnxConfig:
    """Export the sentence-transformers model in ``source`` to ``out`` (created; must not exist),
    quantized to int8 weights when ``int8``. Runs offline from the files in ``source``."""
    import torch
    from sentence_transformers import SentenceTransformer

    if out.exists():
        raise OnnxModelError(f"{out} exists already")
    if threads:
        torch.set_num_threads(threads)
    st_model = SentenceTransformer(str(source), device="cpu")
    # Written into a folder of its own next to ``out``, renamed into place when complete: a
    # crash never leaves half a model at ``out``, and two processes exporting at once do not
    # write into each other's files (the loser's rename fails; see build_packaged).
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide an image's export from its unprivileged user
    try:
        config = _export_into(st_model, source, tmp, int8=int8)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return config


def _export_into(st_model, source: Path, tmp: Path, *, int8: bool) -> OnnxConfig:  # noqa: ANN001
    import torch

    pooling, normalize = _pooling_of(st_model)
    transformer = st_model[0].auto_model.eval()
    fp32 = tmp / ("model-fp32.onnx" if int8 else MODEL_FILE)

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # Two texts of different lengths: the sample batch has padding, so the traced graph keeps
    # the attention mask (transformers may skip an all-ones mask while tracing).
    sample = st_model.tokenize(["an example sentence", "a second, somewhat longer example sentence"])
    args = tuple(sample[k] for k in ("input_ids", "attention_mask", "token_type_ids"))
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "token_type_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"}}
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer's notes on Python-level branches of transformers' masking code (they
        # depend on shapes only, the same for every input here).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # The TorchScript exporter (dynamo=False): it needs no onnxscript and handles the
        # dynamic axes of a BERT model as they are.
        torch.onnx.export(
            LastHiddenState(transformer), args, str(fp32), input_names=list(axes)[:3],
            output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Weights to int8, activations quantized on the fly per batch (no calibration data).
        # Per output channel and MatMul only: per-tensor scales, or quantizing the embedding
        # lookup too, put the vectors at cosine 0.90-0.94 of torch's on real text; this recipe
        # at >= 0.988, for the same speed (measured: bench/onnx_backend.py, tests).
        quantize_dynamic(
            str(fp32), str(tmp / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        fp32.unlink()
    st_model.tokenizer.save_pretrained(str(tmp))
    config = OnnxConfig(
        backend=ONNX_INT8 if int8 else ONNX_FP32, pooling=pooling, normalize=normalize,
        max_seq_length=int(st_model.max_seq_length), dimension=int(_dimension(st_model[1])),
    )
    (tmp / CONFIG_FILE).write_text(json.dumps({**config.__dict__, "source": str(source)}, indent=2) + "\n")
    return config


def exported_source(folder: Path) -> str | None:
    """The source folder an export records, None when ``folder`` holds no complete export."""
    try:
        return str(json.loads((folder / CONFIG_FILE).read_text())["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build_packaged(source: Path, out: Path, *, backend: str, force: bool = False, threads: int = 0) -> bool:
    """Make ``out`` the ``backend`` export of ``source`` (the install's step: offline, from the
    package's files). Nothing to do when ``out`` already holds an export of ``source`` (and not
    ``force``); returns whether it built. A stale export is replaced by a rename, never edited."""
    if backend not in (ONNX_INT8, ONNX_FP32):
        raise OnnxModelError(f"no export for backend {backend!r}")
    if not force and exported_source(out) == str(source) and (out / MODEL_FILE).is_file():
        return False
    fresh = out.with_name(f".{out.name}.new-{os.getpid()}")
    if fresh.exists():
        shutil.rmtree(fresh)
    export(source, fresh, int8=backend == ONNX_INT8, threads=threads)
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    try:
        fresh.rename(out)
    except OSError:
        # Another install process put its (equal) export in place between the two renames.
        shutil.rmtree(fresh, ignore_errors=True)
        if exported_source(out) != str(source):
            raise
    shutil.rmtree(old, ignore_errors=True)
    return True


# ---- inference ---------------------------------------------------------------------------------
class OnnxEncoderModel:
    """An exported folder, loaded: ``encode`` gives sentence-transformers' vectors for it."""

    def __init__(self, folder: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.config = OnnxConfig.read(folder)
        model_file, tok_file = folder / MODEL_FILE, folder / "tokenizer.json"
        for f in (model_file, tok_file):
            if not f.is_file():
                raise OnnxModelError(f"{folder}: exported model incomplete, {f.name} is missing")
        self.max_seq_length = self.config.max_seq_length
        tok = Tokenizer.from_file(str(tok_file))
        tok.enable_truncation(max_length=self.max_seq_length)
        tok.no_padding()  # padded per batch, to the batch's longest text
        self._tok = tok
        self._pad_id = tok.token_to_id("[PAD]") or 0
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(model_file), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own classes for a bad file
            raise OnnxModelError(f"{model_file}: cannot load ({type(exc).__name__}: {exc})") from None
        self._inputs = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> "np.ndarray":
        import numpy as np

        out = np.zeros((len(texts), self.config.dimension), dtype=np.float32)
        if not texts:
            return out
        if self.config.backend == ONNX_INT8:
            # Dynamic quantization takes one activation range per run: in a batch, a text's
            # vector would depend on the other texts (measured: cosine down to 0.976 against
            # the text alone). One text per run makes every vector independent of its batch
            # (queries and re-embedded chunks alike); int8 stays >= 3x torch on chunks.
            batch_size = 1
        encodings = self._tok.encode_batch([str(t).strip() for t in texts])
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.full((len(idx), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            types = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                e = encodings[i]
                n = len(e.ids)
                ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
            if self.config.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                m = mask[:, :, None].astype(np.float32)
                pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out[idx] = pooled
        if self.config.normalize:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out
