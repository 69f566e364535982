"""``bench.run --merge``: a full run finished in parts keeps one results file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run import merge_into


def _run(mode: str, commit: str, measurements: dict) -> dict:
    return {
        "mode": mode, "started_at": f"2026-11-29T0{len(commit)}:00:00+00:00",
        "environment": {"git_commit": commit, "git_dirty": False, "cpus": 2},
        "parameters": {}, "load_average_start": [1.0, 1.0, 1.0], "measurements": measurements,
    }


def test_merge_replaces_measurements_and_names_their_run(tmp_path: Path) -> None:
    target = tmp_path / "full.json"
    first = _run("full", "aaaaaaa", {
        "embed": {"status": "ok", "wall_s": 1.0},
        "lanes": {"status": "skipped", "error": "skipped: not reached"},
    })
    target.write_text(json.dumps(first))
    later = _run("full", "bbbbbbbb", {"lanes": {"status": "error", "error": "boom", "wall_s": 2.0}})
    merge_into(target, later, overrides=["lanes_repeats=1"])

    merged = json.loads(target.read_text())
    assert list(merged["measurements"]) == ["embed", "lanes"]  # the suite's order
    assert merged["measurements"]["embed"] == {"status": "ok", "wall_s": 1.0}
    lanes = merged["measurements"]["lanes"]
    assert lanes["status"] == "error"
    assert lanes["separate_run"]["git_commit"] == "bbbbbbbb"
    assert lanes["separate_run"]["parameter_overrides"] == ["lanes_repeats=1"]
    assert merged["merged_runs"][0]["measurements"] == ["lanes"]
    assert merged["environment"]["git_commit"] == "aaaaaaa"  # the file's own run is unchanged
    report = (tmp_path / "full.md").read_text()
    assert "Measured in a separate run (merged): commit bbbbbbbb" in report
    assert "lanes_repeats=1" in report


def test_merge_refuses_another_mode(tmp_path: Path) -> None:
    target = tmp_path / "full.json"
    target.write_text(json.dumps(_run("full", "aaaaaaa", {})))
    with pytest.raises(SystemExit, match="quick"):
        merge_into(target, _run("quick", "bbbbbbbb", {}), overrides=[])
