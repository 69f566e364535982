"""documind.vectors: deterministic point and chunk ids (docs/design.md rule 3)."""

from __future__ import annotations

import subprocess
import sys
import uuid

from documind.vectors import POINT_NAMESPACE, chunk_id, legacy_point_id, point_id

DOC_A = "0f8fad5b-d9cb-469f-a165-70867728950e"
DOC_B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
MODEL = "all-MiniLM-L6-v2"


def test_point_id_is_deterministic() -> None:
    assert point_id(DOC_A, 3, MODEL, generation=1) == point_id(DOC_A, 3, MODEL, generation=1)


def test_point_id_is_a_uuid() -> None:
    value = uuid.UUID(point_id(DOC_A, 0, MODEL, generation=1))
    assert value.version == 5
    assert str(value) == point_id(DOC_A, 0, MODEL, generation=1)


def test_point_id_differs_by_document_index_and_model() -> None:
    base = point_id(DOC_A, 1, MODEL, generation=1)
    assert point_id(DOC_B, 1, MODEL, generation=1) != base
    assert point_id(DOC_A, 2, MODEL, generation=1) != base
    assert point_id(DOC_A, 1, "other-model", generation=1) != base
    # A late write of generation 1 can never replace generation 2's point (issue 10 item 8).
    assert point_id(DOC_A, 1, MODEL, generation=2) != base


def test_point_ids_are_unique_over_many_chunks() -> None:
    ids = {point_id(doc, i, MODEL, generation=1) for doc in (DOC_A, DOC_B) for i in range(500)}
    assert len(ids) == 1000


def test_point_id_is_stable_across_processes() -> None:
    # The namespace is fixed, so another process (another host, another release) agrees.
    code = f"from documind.vectors import point_id; print(point_id({DOC_A!r}, 7, {MODEL!r}, generation=1))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == point_id(DOC_A, 7, MODEL, generation=1)
    assert point_id(DOC_A, 7, MODEL, generation=1) == str(uuid.uuid5(POINT_NAMESPACE, f"{DOC_A}:1:7:{MODEL}"))


def test_chunk_id_is_deterministic_and_distinct() -> None:
    assert chunk_id(DOC_A, 0) == chunk_id(DOC_A, 0)
    assert chunk_id(DOC_A, 0) != chunk_id(DOC_A, 1)
    assert chunk_id(DOC_A, 0) != chunk_id(DOC_B, 0)
    assert uuid.UUID(chunk_id(DOC_A, 0)).version == 5
    assert len({chunk_id(DOC_A, i) for i in range(1000)}) == 1000


def test_chunk_id_differs_from_point_id() -> None:
    assert chunk_id(DOC_A, 0) != point_id(DOC_A, 0, MODEL, generation=1)


def test_legacy_point_id_is_what_earlier_releases_wrote() -> None:
    # Points of an index written before ids carried the generation (still served, see indexer).
    assert legacy_point_id(DOC_A, 7, MODEL) == str(uuid.uuid5(POINT_NAMESPACE, f"{DOC_A}:7:{MODEL}"))
    assert legacy_point_id(DOC_A, 7, MODEL) != point_id(DOC_A, 7, MODEL, generation=1)
