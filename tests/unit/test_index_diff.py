"""documind_search.index_diff: the rules that classify points as missing, extra or stale."""

from __future__ import annotations

from documind_search.index_diff import (
    SAMPLE_SIZE,
    DocumentState,
    ExpectedPoint,
    Report,
    diff_live_documents,
    diff_orphans,
    stale_reason,
)


def exp(idx: int, doc: str = "d1", gen: int = 2, text: str | None = None) -> ExpectedPoint:
    return ExpectedPoint(f"{doc}-{idx}", doc, idx, gen, "acme", text or f"chunk {idx}")


def payload(e: ExpectedPoint, **changes) -> dict:
    base = {"document_id": e.document_id, "chunk_index": e.chunk_index, "generation": e.generation,
            "tenant": e.tenant, "text": e.text}
    return {**base, **changes}


def test_matching_points_are_clean() -> None:
    want = [exp(0), exp(1)]
    diff = diff_live_documents(want, [(e.point_id, payload(e)) for e in want])
    assert not diff.missing and not diff.stale and not diff.extra


def test_missing_point() -> None:
    want = [exp(0), exp(1), exp(2)]
    diff = diff_live_documents(want, [(want[0].point_id, payload(want[0])), (want[2].point_id, payload(want[2]))])
    assert diff.missing == [want[1]]
    assert not diff.stale and not diff.extra


def test_point_past_the_end_is_extra() -> None:
    want = [exp(0)]
    past = exp(5)
    diff = diff_live_documents(want, [(want[0].point_id, payload(want[0])), (past.point_id, payload(past))])
    assert [(pid, doc) for pid, doc, _ in diff.extra] == [(past.point_id, "d1")]
    assert "past the end" in diff.extra[0][2]


def test_stale_generation_text_tenant() -> None:
    a, b, c = exp(0), exp(1), exp(2)
    diff = diff_live_documents(
        [a, b, c],
        [(a.point_id, payload(a, generation=1)), (b.point_id, payload(b, text="old text")),
         (c.point_id, payload(c, tenant="other"))],
    )
    reasons = {e.chunk_index: why for e, why in diff.stale}
    assert reasons == {0: "generation 1 != 2", 1: "text differs", 2: "tenant differs"}
    assert not diff.missing and not diff.extra


def test_stale_reason_none_when_equal() -> None:
    e = exp(3)
    assert stale_reason(e, payload(e)) is None
    assert stale_reason(e, payload(e, chunk_index=4)) == "chunk_index differs"
    assert stale_reason(e, {}) == "document_id differs"


def test_orphans_by_document_state() -> None:
    docs = {
        "live": DocumentState("completed", False),
        "busy": DocumentState("processing", False),
        "gone": DocumentState("completed", True),
        "bad": DocumentState("failed", False),
        "stop": DocumentState("cancelled", False),
    }
    points = [(f"p-{d}", {"document_id": d}) for d in [*docs, "unknown"]] + [("p-none", {})]
    diff = diff_orphans(points, docs)
    got = {pid: why for pid, _doc, why in diff.extra}
    assert got == {
        "p-gone": "document deleted",
        "p-bad": "document failed",
        "p-stop": "document cancelled",
        "p-unknown": "no such document",
        "p-none": "point has no document_id",
    }


def test_report_counts_everything_but_samples_a_few() -> None:
    report = Report()
    many = [exp(i) for i in range(SAMPLE_SIZE + 5)]
    report.record(diff_live_documents(many, []))
    out = report.as_dict()
    assert out["missing"]["count"] == SAMPLE_SIZE + 5
    assert len(out["missing"]["sample"]) == SAMPLE_SIZE
    assert out["clean"] is False
    assert Report().as_dict()["clean"] is True
