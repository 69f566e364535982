"""The validation CLI in-process (embedded mode, SQLite): validators add/list/stats,
validate next/show/release/approve/assign with --json, refusals as one error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from documind.cli import main
from documind.db.engine import build_engine, build_session_factory, write_transaction
from documind.db.migrate import upgrade
from documind.validation.tasks import open_tasks

from tests.unit.test_validation_tasks import completed_document, review


@pytest.fixture
def cli(clean_env: pytest.MonkeyPatch, tmp_path: Path):  # noqa: ANN201
    clean_env.setenv("DOCUMIND_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{(tmp_path / 'documind.db').resolve()}"
    upgrade(url)
    engine = build_engine(url)
    sessions = build_session_factory(engine)
    doc = completed_document(sessions, chunks=3)
    with write_transaction(sessions) as s:
        open_tasks(s, review(doc, [0, 1]), threshold=0.8, required_answers=1)
    engine.dispose()
    runner = CliRunner()

    def run(*args: str, ok: bool = True):  # noqa: ANN202
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output
        return result

    return run


def test_validator_commands(cli) -> None:  # noqa: ANN001
    cli("validators", "add", "ann", "--languages", "en,DE", "--capacity", "1")
    assert "exists already" in cli("validators", "add", "ann", ok=False).output
    assert "not a language code" in cli("validators", "add", "bob", "--languages", "e!", ok=False).output
    task = json.loads(cli("validate", "next", "--validator", "ann", "--json").output)
    assert task["chunk_index"] == 0 and task["text"] == "chunk 0 text"
    # at capacity: the held task again, never a second one
    assert json.loads(cli("validate", "next", "--validator", "ann", "--json").output)["task_id"] == task["task_id"]
    shown = json.loads(cli("validate", "show", str(task["task_id"]), "--json").output)
    assert shown["assigned_to"] == "ann" and shown["answers"] == []
    cli("validate", "release", str(task["task_id"]), "--validator", "ann", "--json")
    assert json.loads(cli("validate", "assign", "--json").output) == {"assigned": 1}
    listed = json.loads(cli("validators", "list", "--json").output)
    assert listed == [{"name": "ann", "languages": ["de", "en"], "capacity": 1, "active": True, "load": 1,
                       "compared": 0, "agreed": 0, "reliability": None}]
    held = json.loads(cli("validate", "next", "--validator", "ann", "--json").output)
    out = json.loads(cli("validate", "approve", str(held["task_id"]), "--validator", "ann", "--labels", "memo",
                         "--json").output)
    assert out["outcome"] == "approve" and out["final_confidence"] == 1.0
    stats = json.loads(cli("validators", "stats", "--json").output)
    assert stats[0]["answers"] == {"approve": 1} and stats[0]["load"] == 0
    assert "not held by ann" in cli("validate", "approve", str(held["task_id"]), "--validator", "ann", ok=False).output
    assert "no validator" in cli("validate", "next", "--validator", "nobody", ok=False).output
