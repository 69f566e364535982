"""The README's performance table is generated from the committed full run, never typed."""

from __future__ import annotations

import json

import pytest

from bench import readme_table


def test_readme_table_is_the_committed_full_runs_table():
    text = readme_table.README.read_text(encoding="utf-8")
    expected = readme_table.render(json.loads(readme_table.RESULTS.read_text(encoding="utf-8")))
    assert readme_table.replace_block(text, expected) == text, (
        "README's performance table differs from bench/results/full.json: run python -m bench.readme_table")


def test_update_rewrites_only_the_block(tmp_path):
    results = json.loads(readme_table.RESULTS.read_text(encoding="utf-8"))
    results["measurements"]["embed"]["bare_encoder"]["ratio"] = 0.5  # a new run's figure
    res_file = tmp_path / "full.json"
    res_file.write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{readme_table.START}\nold table\n{readme_table.END}\n\nafter\n")
    assert readme_table.update(readme, res_file) is True
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "old table" not in text and "| 0.500 |" in text
    assert readme_table.update(readme, res_file) is False  # idempotent


def test_a_readme_without_markers_is_a_clear_error():
    with pytest.raises(ValueError, match="no performance block"):
        readme_table.replace_block("# no markers here\n", "block")
