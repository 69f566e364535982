"""documind.settings.load_settings: defaults, DOCUMIND_* variables, validation, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from documind.settings import RunMode, SettingsError, load_settings

DB_PASSWORD = "hunter2-db-pw"
REDIS_PASSWORD = "s3cret-redis-pw"


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.mode is RunMode.EMBEDDED
    assert s.data_dir == Path(".documind")
    assert s.database_url is None
    assert s.max_file_bytes == 100 * 1024 * 1024
    assert s.chunk_max_tokens == 256
    assert s.embedding_model == "all-MiniLM-L6-v2"
    assert s.max_retries == 20  # with 1 s .. 60 s backoff: retries go on for minutes
    assert s.max_deliveries == 6
    assert s.min_backoff_ms <= s.max_backoff_ms
    assert s.log_level == "INFO"
    assert s.default_tenant == "default"
    assert s.qdrant_url is None


def test_environment_variables_are_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("DOCUMIND_MODE", "distributed")
    clean_env.setenv("DOCUMIND_DATA_DIR", str(tmp_path))
    clean_env.setenv("DOCUMIND_MAX_FILE_BYTES", "1234")
    clean_env.setenv("DOCUMIND_LOG_LEVEL", "DEBUG")
    clean_env.setenv("DOCUMIND_MAX_RETRIES", "1")
    clean_env.setenv("DOCUMIND_LOG_JSON", "false")
    s = load_settings()
    assert s.mode is RunMode.DISTRIBUTED
    assert s.data_dir == tmp_path
    assert s.max_file_bytes == 1234
    assert s.log_level == "DEBUG"
    assert s.max_retries == 1
    assert s.log_json is False


def test_unprefixed_variables_are_ignored(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MAX_FILE_BYTES", "7")
    assert load_settings().max_file_bytes == 100 * 1024 * 1024


def test_overrides_win_over_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DOCUMIND_MAX_FILE_BYTES", "1234")
    assert load_settings(max_file_bytes=99).max_file_bytes == 99


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOCUMIND_MAX_FILE_BYTES", "-1"),
        ("DOCUMIND_MAX_FILE_BYTES", "lots"),
        ("DOCUMIND_MODE", "bogus"),
        ("DOCUMIND_LOG_LEVEL", "LOUD"),
        ("DOCUMIND_CHUNK_MAX_TOKENS", "3"),
        ("DOCUMIND_OCR_LANGUAGES", "e n g"),
    ],
)
def test_bad_value_names_the_variable(clean_env: pytest.MonkeyPatch, variable: str, value: str) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert variable in str(exc.value)


def test_every_problem_is_reported(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DOCUMIND_MAX_FILE_BYTES", "-1")
    clean_env.setenv("DOCUMIND_LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert "DOCUMIND_MAX_FILE_BYTES" in str(exc.value)
    assert "DOCUMIND_LOG_LEVEL" in str(exc.value)


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_min_backoff_above_max_backoff_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DOCUMIND_MIN_BACKOFF_MS", "5000")
    clean_env.setenv("DOCUMIND_MAX_BACKOFF_MS", "100")
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert "min_backoff_ms" in str(exc.value).lower()


def test_retries_and_deliveries_are_independent(clean_env: pytest.MonkeyPatch) -> None:
    # A retry is not a crash: the delivery counter leaves retries out (middleware.deliveries).
    assert load_settings(max_retries=20, max_deliveries=6).max_deliveries == 6


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DOCUMIND_MIN_BACKOFF_MS": "5000", "DOCUMIND_MAX_BACKOFF_MS": "100"}, "DOCUMIND_MIN_BACKOFF_MS"),
    ],
)
def test_cross_field_error_names_the_variable(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for key, value in env.items():
        clean_env.setenv(key, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert variable in str(exc.value)


def test_secrets_never_appear(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DOCUMIND_DATABASE_URL", f"postgresql+psycopg://documind:{DB_PASSWORD}@db:5432/documind")
    clean_env.setenv("DOCUMIND_REDIS_URL", f"redis://:{REDIS_PASSWORD}@redis:6379/0")
    clean_env.setenv("DOCUMIND_QDRANT_API_KEY", "qdrant-key-xyz")
    s = load_settings()
    # They were read...
    assert DB_PASSWORD in s.effective_database_url
    assert REDIS_PASSWORD in s.redis_url.get_secret_value()
    # ...but never shown.
    for text in (repr(s), str(s), repr(s.redacted()), str(s.redacted())):
        assert DB_PASSWORD not in text
        assert REDIS_PASSWORD not in text
        assert "qdrant-key-xyz" not in text


def test_redacted_removes_password_from_qdrant_url(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DOCUMIND_QDRANT_URL", "https://admin:qdrant-pw-123@qdrant:6333")
    s = load_settings()
    assert "qdrant-pw-123" not in str(s.redacted())


def test_redacted_is_a_plain_dict(clean_env: pytest.MonkeyPatch) -> None:
    r = load_settings(max_file_bytes=77).redacted()
    assert isinstance(r, dict)
    assert r["max_file_bytes"] == 77
    assert r["mode"] == "embedded"


def test_effective_database_url_defaults_to_sqlite_in_data_dir(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'documind.db').resolve()}"


def test_effective_database_url_default_data_dir_is_absolute(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.chdir(tmp_path)
    url = load_settings().effective_database_url
    assert url == f"sqlite:///{(tmp_path / '.documind' / 'documind.db').resolve()}"
    # Building settings creates nothing on disk.
    assert list(tmp_path.iterdir()) == []


def test_effective_database_url_uses_the_configured_url(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DOCUMIND_DATABASE_URL", "postgresql://u:p@h/d")
    assert load_settings().effective_database_url == "postgresql://u:p@h/d"


def test_derived_locations(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.effective_qdrant_path == tmp_path / "qdrant"
    assert s.effective_storage_dir == tmp_path / "files"
    other = tmp_path / "elsewhere"
    s2 = load_settings(data_dir=tmp_path, storage_dir=other, qdrant_path=other)
    assert s2.effective_storage_dir == other
    assert s2.effective_qdrant_path == other


def test_settings_are_frozen(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    with pytest.raises(Exception):
        s.max_retries = 9  # type: ignore[misc]


# A password with an unescaped "/", "#", "?" or "@" is split by URL parsers, which then echo
# a piece of it as a port or host name: every piece is masked too.
@pytest.mark.parametrize(
    ("variable", "url", "pieces"),
    [
        ("DOCUMIND_REDIS_URL", "redis://:hunter2/pw9@127.0.0.1:6379/0", ["hunter2", "pw9"]),
        ("DOCUMIND_REDIS_URL", "redis://:hunter2#pw9@127.0.0.1:6379/0", ["hunter2", "pw9"]),
        ("DOCUMIND_DATABASE_URL", "postgresql+psycopg2://u:hun@ter2pw@127.0.0.1/db", ["hun@ter2pw", "ter2pw"]),
        ("DOCUMIND_DATABASE_URL", "postgresql://u:s3cr%40t-pw@db/documind", ["s3cr%40t-pw", "s3cr@t-pw", "t-pw"]),
    ],
)
def test_redact_masks_passwords_and_their_pieces(
    clean_env: pytest.MonkeyPatch, variable: str, url: str, pieces: list[str]
) -> None:
    clean_env.setenv(variable, url)
    s = load_settings()
    for piece in pieces:
        assert s.redact(f"Port could not be cast to integer value as '{piece}'") == (
            "Port could not be cast to integer value as '***'"
        )
    assert s.redact("connection refused by 127.0.0.1") == "connection refused by 127.0.0.1"


def test_startup_errors_never_echo_a_password(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from documind.db.migrate import upgrade
    from documind.runtime import StartupError, build_runtime

    db = f"sqlite:///{tmp_path / 'documind.db'}"
    upgrade(db)
    cases = [
        # urllib reads "hunter2" as the port; psycopg2 resolves "ter2pw@127.0.0.1" as a host.
        {"database_url": db, "redis_url": "redis://:hunter2/pw@127.0.0.1:6379/0"},
        {"database_url": "postgresql+psycopg2://u:hun@ter2pw@127.0.0.1:5432/db"},
    ]
    for overrides in cases:
        settings = load_settings(mode="distributed", data_dir=tmp_path, **overrides)
        with pytest.raises(StartupError) as exc:
            build_runtime(settings, configure_logs=False)
        message = str(exc.value)
        assert "hunter2" not in message and "ter2pw" not in message and "***" in message
        assert "\n" not in message
