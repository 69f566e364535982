"""The benchmarks on a machine without the shared corpus and SciFact: the measurements that
read them are reported as skipped, saying where the data was looked for, not as failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import common


def test_missing_data_raises_data_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(common, "CORPUS", tmp_path / "corpus")
    monkeypatch.setattr(common, "SCIFACT", tmp_path / "scifact")
    with pytest.raises(common.DataMissing, match=rf"the document corpus not found at {tmp_path}/corpus/MANIFEST.tsv"):
        common.corpus_files()
    with pytest.raises(common.DataMissing, match="DOCUMIND_BENCH_SHARED"):
        common.load_scifact()


def test_run_reports_the_measurements_as_skipped(tmp_path: Path) -> None:
    env = dict(os.environ, DOCUMIND_BENCH_SHARED=str(tmp_path / "no-shared"))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--only", "ingest_corpus", "extraction", "search",
         "--out", str(out)],
        cwd=common.REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    measurements = json.loads((out / "quick.json").read_text())["measurements"]
    for name, missing in [("ingest_corpus", "corpus/MANIFEST.tsv"), ("extraction", "corpus/"),
                          ("search", "datasets/scifact/corpus.jsonl")]:
        assert measurements[name]["status"] == "skipped", measurements[name]
        assert f"{tmp_path}/no-shared/{missing}" in measurements[name]["error"]
    assert "skipped" in (out / "quick.md").read_text()
