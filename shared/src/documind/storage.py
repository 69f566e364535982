"""File storage behind a small interface that an object store (S3, GCS) can implement later:
keys are opaque strings, content goes in and out as streams, and ``local_copy`` hands tools
that need a real path (LibreOffice, Tesseract) a file on disk."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

from documind.tenants import validate_tenant


class FileStorage(Protocol):
    def put_file(self, key: str, source: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def local_copy(self, key: str) -> "contextmanager[Path]": ...  # type: ignore[valid-type]


_SHA256 = re.compile(r"[0-9a-f]{64}")
# A key is relative path segments of these characters; "." and ".." are refused apart.
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,255}")


def content_key(tenant: str, sha256: str) -> str:
    """Content-addressed key: the same bytes from one tenant are stored once."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
    return f"{validate_tenant(tenant)}/{sha256[:2]}/{sha256}"


def check_key(key: str) -> str:
    """``key`` if it is a plain relative key; a key that could name another tenant's object
    (``a/../b/...``), an absolute path or odd characters is refused before any file access."""
    segments = key.split("/")
    if not all(_KEY_SEGMENT.fullmatch(seg) and seg not in (".", "..") for seg in segments):
        raise ValueError(f"invalid storage key: {key[:120]!r}")
    validate_tenant(segments[0])  # every key lives under its tenant's folder
    return key


def sha256_of(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def put_file(self, key: str, source: Path) -> None:
        dest = self._path(key)
        if dest.exists():
            # Stored before: mark it in use again, so a cleanup deciding about these bytes
            # (their earlier document deleted) waits out its grace period before removing them.
            os.utime(dest)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Copy to a temp name then rename: a crash never leaves a half-written object.
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write (or replace) an object atomically: derived files such as renditions."""
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        # Already local: no copy needed. An object store would download to a temp file here.
        yield self._path(key)
