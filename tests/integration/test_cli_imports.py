"""What a ``documind`` command imports: commands that only read the database or send messages
(every command in distributed mode; status, show, audit... in embedded mode) must not import the
model stack (torch, sentence-transformers, transformers), spaCy or unstructured. Each of those
costs seconds per process, and the integration tests run the CLI hundreds of times
(README, "make test"); this guards that cost, by the import set rather than by a timing."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import EXAMPLES
from tests.integration.harness import Stack, distributed_stack, embedded_stack, teardown

pytestmark = pytest.mark.integration

HEAVY = ("torch", "sentence_transformers", "transformers", "spacy", "unstructured", "sklearn", "onnxruntime")

# Runs the console entry point in this interpreter; at exit, prints which heavy packages it
# loaded (an atexit handler: the entry point ends the process itself, see cli.exit_now).
PROBE = f"""
import atexit, json, sys
sys.argv = ["documind", *sys.argv[1:]]
atexit.register(lambda: print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr))
from documind.cli import run
run()
"""


def heavy_imports(stack: Stack, *args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=stack.env, capture_output=True, text=True, timeout=300,
        cwd=stack.root,
    )
    lines = proc.stderr.strip().splitlines()
    assert lines, f"documind {' '.join(args)} printed nothing on stderr (exit {proc.returncode}): {proc.stdout[-2000:]}"
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def distributed_cli() -> Iterator[Stack]:
    """A migrated database and a Redis namespace, no workers: what the CLI alone needs."""
    stack, db = distributed_stack(Path(tempfile.mkdtemp(prefix="documind-imports-")), 10, workers=False)
    try:
        yield stack
    finally:
        teardown(stack, db)


@pytest.mark.parametrize("args", [
    ("--help",),
    ("status", "--json"),
    ("status", "no-such-id", "--json"),
    ("show", "no-such-id", "--json"),
    ("ingest", str(EXAMPLES / "coffee-brewing.txt"), "--json"),  # sends the message, no --wait
    ("search", "coffee", "--json", "--timeout", "1"),  # no worker answers: times out
    ("dead-letters", "list", "--json"),
    ("audit", "verify", "--json"),
])
def test_distributed_commands_do_not_import_the_model_stack(distributed_cli, args):
    assert heavy_imports(distributed_cli, *args) == []


def test_the_probe_sees_heavy_imports(tmp_path):
    """The check can fail: an embedded search with the torch backend imports the model stack in
    this very process (its in-process workers encode the query)."""
    stack = embedded_stack(tmp_path)
    stack.env["DOCUMIND_ENCODER_BACKEND"] = "torch"
    assert {"torch", "sentence_transformers"} <= set(heavy_imports(stack, "search", "coffee", "--json"))


TORCH_STACK = {"torch", "sentence_transformers", "transformers"}


def test_embedded_model_commands_run_without_torch_on_the_default_backend(tmp_path):
    """The default encoder (the int8 ONNX export) runs on onnxruntime and tokenizers: an
    embedded ingest (chunking counts word pieces, the embed stage encodes) and search (encodes
    the query) never import torch, sentence-transformers or transformers (~7 CPU-s each)."""
    stack = embedded_stack(tmp_path)
    ingested = heavy_imports(stack, "ingest", str(EXAMPLES / "coffee-brewing.txt"), "--json")
    assert "onnxruntime" in ingested and not TORCH_STACK & set(ingested), ingested
    searched = heavy_imports(stack, "search", "coffee", "--json")
    assert "onnxruntime" in searched and not TORCH_STACK & set(searched), searched


@pytest.mark.parametrize("args", [("--help",), ("status", "--json"), ("show", "no-such-id", "--json")])
def test_embedded_read_only_commands_do_not_import_the_model_stack(tmp_path, args):
    assert heavy_imports(embedded_stack(tmp_path), *args) == []
