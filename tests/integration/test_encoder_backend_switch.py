"""Switching DOCUMIND_ENCODER_BACKEND on a deployment that has an index: the two backends'
vectors differ, so they are never mixed. A collection made with torch keeps being queried with
torch after the switch (the live collection's model decides), chunks embedded meanwhile with
the new backend are re-embedded by the indexer with the live model, and `model activate 1`
re-embeds everything with the configured backend; then queries use it. Embedded mode: one
process per command, the setting from its environment."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.integration.harness import Stack, embedded_stack

pytestmark = pytest.mark.integration

PACKAGED = "all-MiniLM-L6-v2"
INT8 = "all-MiniLM-L6-v2-onnx-int8"
QUERY = "what lives in tide pools"


def with_backend(stack: Stack, backend: str) -> Stack:
    return Stack(stack.mode, stack.root, dict(stack.env, DOCUMIND_ENCODER_BACKEND=backend))


def chunk_models(stack: Stack) -> set[str]:
    return {m for (m,) in stack.sql("SELECT DISTINCT embedding_model FROM chunks WHERE embedding IS NOT NULL")}


def test_switching_the_backend_never_mixes_vectors_and_activate_re_embeds(tmp_path: Path) -> None:
    from documind.embedding import Encoder, packaged_encoder

    (tmp_path / "stack").mkdir()
    base = embedded_stack(tmp_path / "stack")
    torch_stack, default = with_backend(base, "torch"), base  # default: onnx-int8
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    shutil.copy(EXAMPLES / "tide-pools.html", first)
    shutil.copy(EXAMPLES / "coffee-brewing.txt", second)

    assert all(d["status"] == "completed" for d in torch_stack.ingest(first))
    assert chunk_models(base) == {PACKAGED}
    # The default backend now, on the torch-made index: queries still encoded with torch.
    res = default.cli("search", QUERY, "--mode", "dense", "--top-k", "1", "--json").json()
    assert res["model"] == PACKAGED and res["hits"][0]["source_name"] == "tide-pools.html"
    [(blob,)] = base.sql(f"SELECT embedding FROM chunks WHERE id = '{res['hits'][0]['chunk_id']}'")
    stored = np.frombuffer(bytes(blob), dtype=np.float32)
    assert abs(float(Encoder(PACKAGED).encode([QUERY])[0] @ stored) - res["hits"][0]["score"]) < 1e-4
    # A document ingested on the default backend: the indexer stores it with the live (torch) model.
    assert all(d["status"] == "completed" for d in default.ingest(second))
    assert chunk_models(base) == {PACKAGED}

    act = default.cli("model", "activate", "1", "--json").json()
    assert act["new_model"] == INT8 and act["old_model"] == PACKAGED and act["points_reembedded"] >= 2
    assert chunk_models(base) == {INT8}
    res = default.cli("search", QUERY, "--mode", "dense", "--top-k", "1", "--json").json()
    assert res["model"] == INT8 and res["hits"][0]["source_name"] == "tide-pools.html"
    [(blob,)] = base.sql(f"SELECT embedding FROM chunks WHERE id = '{res['hits'][0]['chunk_id']}'")
    stored = np.frombuffer(bytes(blob), dtype=np.float32)
    int8 = packaged_encoder(PACKAGED, "onnx-int8")
    assert abs(float(int8.encode([QUERY])[0] @ stored) - res["hits"][0]["score"]) < 1e-4
    assert float(int8.encode([res["hits"][0]["text"]])[0] @ stored) > 0.99999
    listed = default.cli("model", "list", "--json").json()
    assert (listed[0]["version"], listed[0]["name"], listed[0]["backend"]) == (1, INT8, "onnx-int8")
