"""Documents in, searchable out — the same tests in embedded and distributed mode."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.integration

GOOD = {
    "coffee-brewing.txt": (EXAMPLES, "what temperature should the water have for pour-over coffee"),
    "qdrant-notes.md": (EXAMPLES, "switch an alias to rebuild the index without downtime"),
    "tide-pools.html": (EXAMPLES, "hermit crabs change shells as they grow"),
    # None: from the generated corpus.
    "tables.docx": (None, None),
    "two-columns-2p.pdf": (None, "each passage is retrieved by its dense vector"),
}


@pytest.fixture(scope="session")
def good_docs(stack, made_corpus, tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp(f"good-{stack.mode}")
    for name, (src, _q) in GOOD.items():
        shutil.copy((src or made_corpus) / name, folder / name)
    docs = stack.ingest(folder)
    return {d["source_name"]: d for d in docs}


def test_every_good_document_completes_with_chunks(stack, good_docs):
    assert set(good_docs) == set(GOOD)
    for name, doc in good_docs.items():
        assert doc["status"] == "completed", (name, doc["error"])
        assert doc["chunk_count"] and doc["chunk_count"] > 0, name
        assert doc["mime_type"], name


def test_status_shows_every_stage_done(stack, good_docs):
    doc = stack.status(good_docs["coffee-brewing.txt"]["id"])
    assert doc["status"] == "completed"
    stages = {s["name"]: s for s in doc["stages"]}
    assert list(stages) == ["validate", "extract", "chunk", "embed", "index"]
    assert all(s["state"] == "done" for s in stages.values())
    assert stages["embed"]["units_done"] == stages["embed"]["units_total"] == doc["chunk_count"]
    assert stages["index"]["units_done"] == doc["chunk_count"]


@pytest.mark.parametrize("name", [n for n, (_s, q) in GOOD.items() if q])
def test_query_finds_its_document_first(stack, good_docs, name):
    query = GOOD[name][1]
    hits = stack.search(query, 3)
    assert hits, f"no hits for {query!r}"
    top = hits[0]
    assert top["document_id"] == good_docs[name]["id"], [h["source_name"] for h in hits]
    assert top["source_name"] == name and top["text"] and isinstance(top["score"], float)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_no_chunk_exceeds_the_model_window(stack, good_docs):
    ids = ",".join(f"'{d['id']}'" for d in good_docs.values())
    (longest,) = stack.sql(f"SELECT max(token_count) FROM chunks WHERE document_id IN ({ids})")[0]
    assert 0 < longest <= 256


def test_same_bytes_twice_are_one_document(stack, good_docs):
    again = stack.ingest(EXAMPLES / "coffee-brewing.txt")
    assert again[0]["id"] == good_docs["coffee-brewing.txt"]["id"]
    assert again[0]["duplicate"] is True and again[0]["status"] == "completed"


def test_reprocess_starts_a_new_generation_and_stays_searchable(stack, good_docs):
    doc = good_docs["qdrant-notes.md"]
    again = stack.ingest(EXAMPLES / "qdrant-notes.md", extra=("--reprocess",))[0]
    assert again["id"] == doc["id"] and again["generation"] == doc["generation"] + 1
    assert again["status"] == "completed"
    hits = stack.search(GOOD["qdrant-notes.md"][1], 10)
    ours = [h for h in hits if h["document_id"] == doc["id"]]
    # Deterministic point ids: re-processing overwrote, it did not duplicate.
    assert len({h["chunk_index"] for h in ours}) == len(ours) >= 1


BAD = {
    "empty.txt": "file is empty",
    "user-password.pdf": "PDF is password protected",
    "password-protected.xlsx": "password protected",
}


def test_bad_inputs_fail_once_with_a_clear_reason(stack, made_corpus, tmp_path):
    for name in BAD:
        shutil.copy(made_corpus / name, tmp_path / name)
    (tmp_path / "program.exe").write_bytes(b"MZ\x90\x00" + bytes(range(256)) * 40)
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    docs = {d["source_name"]: d for d in stack.ingest(tmp_path)}
    for name, reason in BAD.items():
        assert docs[name]["status"] == "failed", name
        assert reason in docs[name]["error"], (name, docs[name]["error"])
    assert docs["program.exe"]["status"] == "failed"
    assert docs["program.exe"]["error"].startswith("unsupported type"), docs["program.exe"]["error"]
    assert docs["broken.docx"]["status"] == "failed", docs["broken.docx"]
    # Permanent errors are not retried: one delivery of the ingest message each.
    ids = ",".join(f"'{d['id']}'" for d in docs.values())
    rows = stack.sql(f"SELECT attempt FROM stages WHERE document_id IN ({ids}) AND name = 'validate'")
    assert rows and all(attempt == 1 for (attempt,) in rows)


def test_delete_removes_document_from_search(stack, tmp_path):
    path = tmp_path / "volcano.txt"
    path.write_text(
        "Volcanic eruptions eject ash, lava and gases. Basaltic lava from shield volcanoes "
        "flows far because it is runny; andesitic magma is sticky and erupts explosively."
    )
    (doc,) = stack.ingest(path)
    assert doc["status"] == "completed"
    assert stack.search("sticky magma explosive eruption", 1)[0]["document_id"] == doc["id"]
    out = stack.cli("delete", doc["id"], "--json").json()
    assert out["status"] == "deleted" and out["points_removed"] == doc["chunk_count"]
    hits = stack.search("sticky magma explosive eruption", 10)
    assert doc["id"] not in {h["document_id"] for h in hits}
    assert stack.status(doc["id"])["status"] == "deleted"
    # Uploading the same bytes again brings it back as a fresh generation.
    (back,) = stack.ingest(path)
    assert back["id"] == doc["id"] and back["status"] == "completed" and back["generation"] == 2


def test_tenants_never_see_each_other(stack, tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("The launch code for project aurora is kept in the blue notebook in the safe.")
    (doc,) = stack.ingest(path, extra=("--tenant", "acme"))
    assert doc["status"] == "completed" and doc["tenant"] == "acme"
    acme = stack.search("where is the launch code kept", 3, "--tenant", "acme")
    assert acme and acme[0]["document_id"] == doc["id"]
    other = stack.search("where is the launch code kept", 10, "--tenant", "default")
    assert doc["id"] not in {h["document_id"] for h in other}


def test_cli_errors_are_one_line_with_nonzero_exit(stack):
    res = stack.cli("status", "no-such-document", check=False)
    assert res.code == 1 and res.stderr.strip().splitlines()[-1].startswith("documind: error: no such document")
    res = stack.cli("ingest", "/definitely/not/here", check=False)
    assert res.code == 1 and "no such file or folder" in res.stderr


def test_distributed_refuses_an_unmigrated_database(tmp_path):
    from tests.integration.harness import Stack, base_env, create_database, drop_database, pg_url

    db = create_database()
    try:
        env = base_env(tmp_path)
        env.update(
            DOCUMIND_MODE="distributed",
            DOCUMIND_DATABASE_URL=pg_url(db),
        )
        res = Stack("distributed", tmp_path, env).cli("status", check=False)
        assert res.code == 1
        assert "run `documind migrate`" in res.stderr.strip().splitlines()[-1]
        assert "postgres@" not in res.stderr  # the URL (a secret) is never printed
    finally:
        drop_database(db)
