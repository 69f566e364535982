"""Tenant names (documind.tenants): one definition, enforced by settings, message contracts,
storage keys and the status store's id lookups."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from documind.contracts import CheckIndex, DeleteDocument, ExtractPages, ProcessDocument, SearchQuery
from documind.errors import MalformedMessage
from documind.renditions import rendition_key
from documind.settings import SettingsError, load_settings
from documind.status import StatusStore, Upload
from documind.storage import LocalStorage, content_key
from documind.tenants import TENANT_PATTERN, InvalidTenant, validate_tenant

SHA = "ab" * 32
DOC = "0f8fad5b-d9cb-469f-a165-70867728950e"

VALID = ["default", "acme", "t1", "cache-it", "a_b", "0", "x" * 64]
HOSTILE = [
    "", "a/../b", "../b", "..", ".", "a/b", "/etc", "a\\b", "A", "Acme", "a b", "a\nb", "default\n",
    "-x", "_x", "x" * 65, "é", "a.b", "a\x00b", "%2e%2e", "~root", " default",
]


@pytest.mark.parametrize("name", VALID)
def test_valid_tenants_are_accepted(name: str) -> None:
    assert validate_tenant(name) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_tenants_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(InvalidTenant) as exc:
        validate_tenant(name)
    message = str(exc.value)
    assert message.startswith("invalid tenant ") and "\n" not in message and len(message) < 250


def test_non_strings_are_refused() -> None:
    for value in (None, 7, b"acme", ["acme"]):
        with pytest.raises(InvalidTenant):
            validate_tenant(value)


@given(st.text(max_size=80))
def test_any_string_is_valid_exactly_when_it_matches_the_pattern(name: str) -> None:
    try:
        assert validate_tenant(name) == name
    except InvalidTenant:
        assert not TENANT_PATTERN.fullmatch(name)
    else:
        assert TENANT_PATTERN.fullmatch(name)
        assert "/" not in name and "." not in name and name == name.strip()


def test_default_tenant_setting_is_validated(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings().default_tenant == "default"
    clean_env.setenv("DOCUMIND_DEFAULT_TENANT", "a/../b")
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert "DOCUMIND_DEFAULT_TENANT" in str(exc.value) and "invalid tenant" in str(exc.value)


@pytest.mark.parametrize("name", ["a/../b", "A", "acme\n"])
def test_messages_with_a_bad_tenant_are_refused_on_receipt(name: str) -> None:
    payloads = [
        (ProcessDocument, {"document_id": DOC, "generation": 1, "tenant": name}),
        (ExtractPages, {"document_id": DOC, "generation": 1, "first_page": 1, "last_page": 1, "total_pages": 1,
                        "tenant": name}),
        (DeleteDocument, {"document_id": DOC, "tenant": name}),
        (SearchQuery, {"query": "q", "tenant": name}),
        (CheckIndex, {"tenant": name}),
    ]
    for contract, payload in payloads:
        with pytest.raises(MalformedMessage) as exc:
            contract.parse(payload)
        assert "tenant" in str(exc.value)


def test_document_messages_carry_their_tenant_and_old_ones_still_parse() -> None:
    assert ProcessDocument.parse({"document_id": DOC, "generation": 1, "tenant": "acme"}).tenant == "acme"
    assert ProcessDocument.parse({"document_id": DOC, "generation": 1}).tenant is None
    assert DeleteDocument.parse({"document_id": DOC, "tenant": "acme"}).tenant == "acme"


# ---- storage: keys stay inside their tenant's folder ---------------------------------------
@pytest.mark.parametrize("name", HOSTILE)
def test_storage_keys_refuse_hostile_tenants(name: str) -> None:
    with pytest.raises(InvalidTenant):
        content_key(name, SHA)
    with pytest.raises(InvalidTenant):
        rendition_key(name, DOC, 1, "md")


def test_content_key_refuses_a_digest_that_is_not_one() -> None:
    for digest in ("../../etc/passwd", "AB" * 32, "ab" * 31, ""):
        with pytest.raises(ValueError):
            content_key("acme", digest)


# (Keys leaving the storage root, "../x" or "/etc/x", were refused before; these were not.)
@pytest.mark.parametrize("key", ["a/../b/x", "acme/../b/x", "acme/./x", "acme//x", "acme/x/", "acme\\..\\b",
                                 "Acme/x", "acme/x\n"])
def test_local_storage_refuses_keys_that_could_reach_another_folder(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "files")
    for op in (lambda: storage.put_bytes(key, b"x"), lambda: storage.exists(key), lambda: storage.delete(key)):
        with pytest.raises(ValueError):
            op()
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "acme", "x.y", "/", "\\", "~", "%2f"]), min_size=1,
                max_size=6),
       st.text(max_size=20))
def test_any_key_stays_inside_the_folder_of_its_first_segment(tmp_path_factory: pytest.TempPathFactory,
                                                              parts: list[str], noise: str) -> None:
    root = tmp_path_factory.mktemp("store")
    storage = LocalStorage(root)
    key = "/".join(parts) + noise
    try:
        storage.put_bytes(key, b"x")
    except ValueError:
        assert not any(p.is_file() for p in root.rglob("*"))
        return
    (written,) = [p for p in root.rglob("*") if p.is_file()]
    # Written exactly where the key says, under a valid tenant's folder.
    assert written == root / key
    assert validate_tenant(written.relative_to(root).parts[0])


# ---- status store: id lookups scoped to a tenant -------------------------------------------
def test_status_lookups_treat_another_tenants_document_as_missing(sessions) -> None:  # noqa: ANN001
    store = StatusStore(sessions)
    reg = store.register(Upload(tenant="acme", source_name="r.pdf", sha256=SHA, size_bytes=1, storage_key="k"))
    doc_id = reg.document_id
    assert store.get(doc_id, tenant="globex") is None
    assert store.mark_deleted(doc_id, tenant="globex") is None
    assert store.cancel(doc_id, tenant="globex") == (None, False)
    assert not store.belongs_to(doc_id, "globex") and store.belongs_to(doc_id, "acme")
    # Nothing happened to acme's document.
    assert store.get(doc_id, tenant="acme").status.value == "received"  # type: ignore[union-attr]
    doc, cancelled = store.cancel(doc_id, tenant="acme")
    assert cancelled and doc is not None and doc.tenant == "acme"
