"""An ONNX Runtime int8 export as a model version, in both modes: `model export-onnx` exports
the packaged model's torch files offline into the file store and registers it (backend onnx-int8),
`model activate` re-embeds every chunk with it, and queries are then encoded with it too (the
live collection's model and backend). Rolled back at the end: the session's stack goes on with
the packaged model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.integration.harness import Stack
from tests.integration.test_index_maintenance import DOCS, QUERY

pytestmark = pytest.mark.integration

PACKAGED = "all-MiniLM-L6-v2"
BASE = "all-MiniLM-L6-v2-onnx-int8"  # version 1 on the default encoder backend: the install's export


def stored_vector(stack: Stack, chunk_id: str) -> tuple[np.ndarray, str]:
    [(blob, model)] = stack.sql(f"SELECT embedding, embedding_model FROM chunks WHERE id = '{chunk_id}'")
    return np.frombuffer(bytes(blob), dtype=np.float32), model


def test_onnx_int8_version_is_exported_activated_and_answers_queries(stack: Stack, tmp_path: Path) -> None:
    from documind.embedding import Encoder, packaged_encoder

    folder = tmp_path / "docs"
    folder.mkdir()
    for name in DOCS:
        shutil.copy(EXAMPLES / name, folder / name)
    assert all(d["status"] == "completed" for d in stack.ingest(folder))

    row = stack.cli("model", "export-onnx", "--json").json()
    assert row["status"] == "candidate" and row["backend"] == "onnx-int8" and row["parent_version"] == 1
    name, version = row["name"], row["version"]
    assert name == f"{PACKAGED}-onnx-int8-v{version}"
    listed = stack.cli("model", "list").stdout
    assert name in listed and "onnx-int8" in listed
    onnx = Encoder(name, path=Path(stack.env["DOCUMIND_DATA_DIR"]) / "files" / row["path"], dimension=384,
                   backend="onnx-int8")
    try:
        act = stack.cli("model", "activate", str(version), "--json").json()
        assert act["new_model"] == name and act["old_model"] == BASE and act["points_reembedded"] >= len(DOCS)
        res = stack.cli("search", QUERY, "--top-k", "3", "--mode", "dense", "--json").json()
        assert res["model"] == name
        top = res["hits"][0]
        assert top["source_name"] == "tide-pools.html"
        vec, model = stored_vector(stack, top["chunk_id"])
        assert model == name
        # The query was encoded by the int8 model: its vector against the stored one gives the
        # score; the torch model's query vector would not.
        assert abs(float(onnx.encode([QUERY])[0] @ vec) - top["score"]) < 1e-4
        assert abs(float(Encoder(PACKAGED).encode([QUERY])[0] @ vec) - top["score"]) > 1e-3
        # The stored vector is the int8 model's vector of the chunk's text (one text per run:
        # the re-embedding batch does not move it).
        assert float(onnx.encode([top["text"]])[0] @ vec) > 0.99999
        # Exported from the package's torch files by the install's recipe: the same vectors as
        # the default backend's (version 1), though a model of its own to the index.
        assert float(packaged_encoder(PACKAGED, "onnx-int8").encode([top["text"]])[0] @ vec) > 0.99999
    finally:
        back = stack.cli("model", "activate", "1", "--json").json()
        assert back["new_model"] == BASE
    assert stack.cli("search", QUERY, "--top-k", "1", "--json").json()["model"] == BASE
