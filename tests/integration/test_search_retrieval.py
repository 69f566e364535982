"""Keyword, hybrid and filtered search, batch queries and model refusal, through the real CLI
and workers — the same tests in embedded and distributed mode. Each test uses a tenant of its
own, so documents of other tests never interfere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# "zorblaxine" occurs in RARE only; the distractors carry look-alike made-up words, which the
# embedding model places closer to the query than the long, off-topic RARE (measured: RARE
# ranks last of four in dense mode), while BM25 matches the exact stem only.
RARE = (
    "Greenhouse log, week 12. Tomato seedlings were moved to larger pots and watered twice a day. "
    "The irrigation controller firmware reported code zorblaxine after the reset, then ran normally."
)
DISTRACTORS = {
    "solvent.txt": "The zorblaxane compound is a fictional solvent used in chemistry exercises about dilution.",
    "pharmacy.txt": "Zorblaxil tablets: a made-up medicine name used in pharmacy training to teach dosage labels.",
    "robot.txt": "Zorblax is the name of a robot in a children's story who learns to paint with colours.",
}


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def rare_docs(stack, tmp_path_factory) -> dict[str, dict]:
    folder = _write(tmp_path_factory.mktemp(f"rare-{stack.mode}"), {"greenhouse.txt": RARE, **DISTRACTORS})
    docs = stack.ingest(folder, extra=("--tenant", "rare"))
    assert all(d["status"] == "completed" for d in docs), docs
    return {d["source_name"]: d for d in docs}


def _search(stack, query: str, top_k: int, mode: str, *extra: str) -> list[dict]:  # noqa: ANN001
    return stack.search(query, top_k, "--mode", mode, *extra)


def test_keyword_finds_an_exact_rare_term_that_dense_misses(stack, rare_docs):
    target = rare_docs["greenhouse.txt"]["id"]
    keyword = _search(stack, "zorblaxine", 10, "keyword", "--tenant", "rare")
    assert [h["document_id"] for h in keyword] == [target]  # only the exact term matches
    dense = _search(stack, "zorblaxine", 1, "dense", "--tenant", "rare")
    assert dense and dense[0]["document_id"] != target


def test_hybrid_returns_both_keyword_and_dense_hits(stack, rare_docs):
    target = rare_docs["greenhouse.txt"]["id"]
    dense_top = _search(stack, "zorblaxine", 1, "dense", "--tenant", "rare")[0]["document_id"]
    hybrid = _search(stack, "zorblaxine", 2, "hybrid", "--tenant", "rare")
    assert {h["document_id"] for h in hybrid} == {target, dense_top}
    hit = hybrid[0]
    assert set(hit) >= {"document_id", "source_name", "chunk_id", "chunk_index", "score", "text", "page"}
    # Hybrid is the default mode.
    assert {h["document_id"] for h in stack.search("zorblaxine", 2, "--tenant", "rare")} == {target, dense_top}


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_tenant_isolation_in_every_mode(stack, rare_docs, mode):
    other = _search(stack, "zorblaxine greenhouse irrigation controller", 10, mode, "--tenant", "someone-else")
    assert not {h["document_id"] for h in other} & {d["id"] for d in rare_docs.values()}
    own = _search(stack, "zorblaxine greenhouse irrigation controller", 10, mode, "--tenant", "rare")
    assert rare_docs["greenhouse.txt"]["id"] in {h["document_id"] for h in own}


def test_filters_by_mime_type_date_and_document(stack, tmp_path):
    text = "Heliotrope flowers smell of vanilla and attract butterflies in the {} garden."
    (first,) = stack.ingest(_write(tmp_path / "a", {"notes.txt": text.format("morning")}) / "notes.txt",
                            extra=("--tenant", "filters"))
    (second,) = stack.ingest(
        _write(tmp_path / "b", {"page.html": f"<html><body><p>{text.format('evening')}</p></body></html>"}) / "page.html",
        extra=("--tenant", "filters"),
    )
    assert first["status"] == second["status"] == "completed"
    assert first["mime_type"] != second["mime_type"]
    ids = lambda hits: {h["document_id"] for h in hits}  # noqa: E731
    base = ("--tenant", "filters")
    for mode in ("dense", "keyword", "hybrid"):
        assert ids(_search(stack, "heliotrope butterflies", 10, mode, *base)) == {first["id"], second["id"]}
        assert ids(_search(stack, "heliotrope butterflies", 10, mode, *base, "--mime", second["mime_type"])) == {second["id"]}
    q = ("heliotrope butterflies", "--top-k", "10", "--json", *base)
    assert ids(stack.cli("search", *q, "--document", first["id"]).json()["hits"]) == {first["id"]}
    # created_at of the second document splits them: --since is inclusive, --until exclusive.
    cut = second["created_at"]
    assert ids(stack.cli("search", *q, "--since", cut).json()["hits"]) == {second["id"]}
    assert ids(stack.cli("search", *q, "--until", cut).json()["hits"]) == {first["id"]}
    res = stack.cli("search", "heliotrope", "--since", "yesterday", check=False)
    assert res.code == 2 and "not an ISO date" in res.stderr


def test_batch_queries_print_one_json_line_per_query(stack, rare_docs, tmp_path):
    target = rare_docs["greenhouse.txt"]["id"]
    qfile = tmp_path / "queries.txt"
    qfile.write_text('zorblaxine\n\n{"id": "robot", "text": "a robot who learns to paint"}\n{"id": 7, "text": "the of"}\n')
    res = stack.cli("search", "--queries", str(qfile), "--top-k", "2", "--json", "--tenant", "rare", "--mode", "keyword")
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["1", "robot", "7"]
    assert [h["document_id"] for h in lines[0]["hits"]] == [target]
    assert lines[1]["hits"][0]["document_id"] == rare_docs["robot.txt"]["id"]
    assert set(lines[1]["hits"][0]) >= {"document_id", "source_name", "chunk_id", "score"}
    assert lines[2]["hits"] == []  # stopwords only: nothing to match by keyword
    dense = stack.cli("search", "--queries", str(qfile), "--top-k", "1", "--json", "--tenant", "rare", "--mode", "dense")
    assert [len(json.loads(line)["hits"]) for line in dense.stdout.splitlines()] == [1, 1, 1]


def test_a_batch_larger_than_one_message_keeps_every_query_in_order(stack, rare_docs, tmp_path):
    """A file spanning several SearchBatch messages: every query answered once, in file order."""
    from documind.cli.search import BATCH_MESSAGE_QUERIES

    count = BATCH_MESSAGE_QUERIES * 2 + 3
    qfile = tmp_path / "many.txt"
    qfile.write_text("".join(json.dumps({"id": f"q{i}", "text": f"robot paints {i}"}) + "\n" for i in range(count)))
    res = stack.cli("search", "--queries", str(qfile), "--top-k", "1", "--json", "--tenant", "rare", "--mode", "keyword")
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [line["id"] for line in lines] == [f"q{i}" for i in range(count)]
    robot = rare_docs["robot.txt"]["id"]
    assert all(line["hits"][0]["document_id"] == robot for line in lines)


def test_a_search_past_its_timeout_names_the_right_cause(stack, rare_docs):
    res = stack.cli("search", "a robot who learns to paint", "--tenant", "rare", "--timeout", "0.001", check=False)
    assert res.code == 1
    reason = res.stderr.strip().splitlines()[-1]
    assert "within 0.001 s" in reason and "--timeout" in reason
    if stack.mode == "embedded":
        # The service runs inside the command: a missing worker cannot be the cause.
        assert "worker" not in reason and "inside this command" in reason
    else:
        assert "no search worker is consuming queue 'search_query'" in reason


def test_batch_query_file_errors_name_the_line(stack, tmp_path):
    qfile = tmp_path / "bad.txt"
    qfile.write_text('first\n{"id": "x", "txt": "typo"}\n')
    res = stack.cli("search", "--queries", str(qfile), "--json", check=False)
    assert res.code == 1 and res.stdout == ""
    assert res.stderr.strip().splitlines()[-1] == f'documind: error: {qfile} line 2: a JSON line needs "text" (and optionally "id")'
    res = stack.cli("search", "both", "--queries", str(qfile), check=False)
    assert res.code == 2 and "either QUERY or --queries" in res.stderr


def test_a_query_with_another_model_is_refused(stack, rare_docs):
    env = dict(stack.env, DOCUMIND_EMBEDDING_MODEL="other-model")
    res = type(stack)(stack.mode, stack.root, env).cli("search", "zorblaxine", "--json", check=False)
    assert res.code == 1
    last = res.stderr.strip().splitlines()[-1]
    if stack.mode == "distributed":
        # The worker's collection is stamped with all-MiniLM-L6-v2: the query is refused there.
        assert "refusing to mix in or query with 'other-model'" in last, last
    else:
        # Embedded: this process would have to load the model itself, and cannot.
        assert "unknown embedding model 'other-model'" in last, last


def test_search_worker_is_warm_before_the_first_query(stack):
    if stack.mode != "distributed":
        pytest.skip("worker processes exist in distributed mode only")
    log = (stack.root / "logs" / "search.log").read_text(errors="replace")
    assert '"search worker warm"' in log or "search worker warm" in log, log[-2000:]


def test_a_collection_in_the_old_layout_asks_for_a_re_index(stack):
    if stack.mode != "embedded":
        pytest.skip("the distributed search worker holds the Qdrant local folder open")
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(stack.root / "data" / "qdrant"))
    try:
        client.create_collection(
            "legacy", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE),
            metadata={"model": "all-MiniLM-L6-v2", "dimension": 384},
        )
    finally:
        client.close()
    env = dict(stack.env, DOCUMIND_QDRANT_COLLECTION="legacy")
    res = type(stack)(stack.mode, stack.root, env).cli("search", "anything", check=False)
    assert res.code == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("documind: error: collection 'legacy' has the old layout") and "re-index" in last, last
