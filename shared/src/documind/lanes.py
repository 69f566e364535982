"""Which priority lane an ingest goes to (contracts.Lane): a person uploading a file or two
waits on the result (interactive); a folder or a batch of files is an import (bulk)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from documind.contracts import Lane


def choose_lane(
    paths: Sequence[Path],
    file_count: int,
    *,
    threshold_files: int,
    bulk: bool = False,
    lane: Lane | None = None,
) -> Lane:
    """``lane`` (``--lane``) wins; then ``bulk`` (``--bulk``); a folder among ``paths``, or
    more than ``threshold_files`` files, is bulk; anything else is interactive."""
    if lane is not None:
        return lane
    if bulk or file_count > threshold_files or any(p.is_dir() for p in paths):
        return Lane.BULK
    return Lane.INTERACTIVE
