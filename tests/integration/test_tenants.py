"""Tenants through the real CLI in embedded mode: the same file ingested by two tenants is two
documents, each tenant sees only its own, id-taking commands given another tenant's id answer
exactly as for a missing one, and a hostile tenant name is refused in one line."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.harness import Stack, embedded_stack, teardown

pytestmark = pytest.mark.integration

TEXT = "The lighthouse keeper logged fourteen ships passing the northern reef during the storm."
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="documind-tenants-"))
    s = embedded_stack(root)
    try:
        yield s
    finally:
        teardown(s, None)


@pytest.fixture(scope="module")
def docs(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    path = tmp_path_factory.mktemp("tenants") / "logbook.txt"
    path.write_text(TEXT)
    (acme,) = stack.ingest(path, extra=("--tenant", "acme"))
    (globex,) = stack.ingest(path, extra=("--tenant", "globex"))
    assert acme["status"] == globex["status"] == "completed"
    return {"acme": acme, "globex": globex}


def refusal(stack: Stack, *args: str) -> str:
    res = stack.cli(*args, check=False)
    lines = res.stderr.strip().splitlines()
    assert res.code == 1 and len(lines) == 1, (res.code, res.stderr)
    return lines[0]


def test_same_file_is_one_document_per_tenant(stack: Stack, docs: dict[str, dict]) -> None:
    acme, globex = docs["acme"], docs["globex"]
    assert acme["id"] != globex["id"] and acme["sha256"] == globex["sha256"]
    assert not acme["duplicate"] and not globex["duplicate"]
    for tenant, doc in docs.items():
        assert stack.cli("status", doc["id"], "--tenant", tenant, "--json").json()["tenant"] == tenant
        listed = stack.cli("status", "--tenant", tenant, "--json").json()
        assert [d["id"] for d in listed] == [doc["id"]]
        hits = stack.search("how many ships passed the reef", 5, "--tenant", tenant)
        assert {h["document_id"] for h in hits} == {doc["id"]}
        md = stack.cli("rendition", doc["id"], "--tenant", tenant).stdout
        assert "lighthouse keeper" in md


@pytest.mark.parametrize("command", [("status",), ("rendition",), ("delete",), ("cancel",), ("status", "--watch")])
def test_another_tenants_id_answers_like_a_missing_one(stack: Stack, docs: dict[str, dict], command) -> None:  # noqa: ANN001
    acme_id = docs["acme"]["id"]
    # The default tenant too: no --tenant means DOCUMIND_DEFAULT_TENANT, not "any tenant".
    for extra in (("--tenant", "globex"), ()):
        theirs = refusal(stack, command[0], acme_id, *command[1:], *extra)
        missing = refusal(stack, command[0], MISSING, *command[1:], *extra)
        assert theirs == f"documind: error: no such document: {acme_id}"
        assert theirs.replace(acme_id, MISSING) == missing
    # Nothing happened to acme's document.
    assert stack.cli("status", acme_id, "--tenant", "acme", "--json").json()["status"] == "completed"


@pytest.mark.parametrize("tenant", ["a/../b", "Acme", "acme\nglobex", "x" * 65, ""])
@pytest.mark.parametrize("command", [("ingest", "{file}"), ("status",), ("status", "{id}"), ("rendition", "{id}"),
                                     ("delete", "{id}"), ("cancel", "{id}"), ("search", "ships"), ("analytics",),
                                     ("index", "check")])
def test_a_hostile_tenant_is_refused_in_one_line(
    stack: Stack, docs: dict[str, dict], tmp_path: Path, tenant: str, command
) -> None:  # noqa: ANN001
    file = tmp_path / "x.txt"
    file.write_text(TEXT)
    args = [a.format(file=file, id=docs["acme"]["id"]) for a in command]
    line = refusal(stack, *args, "--tenant", tenant)
    assert line.startswith("documind: error: invalid tenant"), line
    assert not (stack.root / "data" / "files" / "b").exists()


def test_deleting_one_tenants_copy_leaves_the_others(stack: Stack, docs: dict[str, dict]) -> None:
    acme, globex = docs["acme"], docs["globex"]
    stack.cli("delete", acme["id"], "--tenant", "acme")
    assert stack.cli("status", acme["id"], "--tenant", "acme", "--json").json()["status"] == "deleted"
    assert "lighthouse keeper" in stack.cli("rendition", globex["id"], "--tenant", "globex").stdout
    hits = stack.search("how many ships passed the reef", 5, "--tenant", "globex")
    assert {h["document_id"] for h in hits} == {globex["id"]}
