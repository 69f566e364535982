"""Print the third-party requirements of DocuMind packages, read from their pyproject.toml.

The images install every dependency (pinned by requirements/constraints.txt) before any
DocuMind source is copied, so a code change rebuilds only the last, small layers and never
reinstalls torch. Usage, from the repository root (or the image's /src):

    python deploy/docker/requirements.py 'shared[models]' services/embed services/search
    python deploy/docker/requirements.py --exclude torch --exclude sentence-transformers ...

A dependency on one of the named packages (``documind-shared[models]``) is expanded into that
package's own dependencies (with the extras asked for) instead of being printed; a dependency
on any other ``documind-*`` package is an error, because it would be installed from an index.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(.*)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(spec: str) -> tuple[str, set[str], str]:
    m = _REQ.match(spec)
    if not m:
        raise ValueError(f"cannot parse requirement {spec!r}")
    extras = {e.strip() for e in (m.group(2) or "").split(",") if e.strip()}
    return m.group(1), extras, m.group(3).strip()


def requirements(targets: list[str], root: Path = Path("."), exclude: frozenset[str] = frozenset()) -> list[str]:
    projects: dict[str, dict] = {}
    wanted: list[tuple[str, set[str]]] = []
    for target in targets:
        folder, _, rest = target.partition("[")
        extras = {e.strip() for e in rest.rstrip("]").split(",") if e.strip()}
        meta = tomllib.loads((root / folder / "pyproject.toml").read_text())["project"]
        projects[_norm(meta["name"])] = meta
        wanted.append((_norm(meta["name"]), extras))

    out: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()

    def visit(name: str, extras: set[str]) -> None:
        meta = projects[name]
        specs = list(meta.get("dependencies", []))
        for extra in sorted(extras):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            try:
                specs += meta["optional-dependencies"][extra]
            except KeyError:
                raise ValueError(f"{meta['name']} has no extra {extra!r}") from None
        for spec in specs:
            dep, dep_extras, _ = _split(spec)
            key = _norm(dep)
            if key in projects:
                visit(key, dep_extras)
            elif key in exclude:
                continue
            elif key.startswith("documind-"):
                raise ValueError(f"{meta['name']} needs {dep}: name its folder too")
            else:
                # The same requirement may come with different extras from two packages.
                prev = out.get(key)
                out[key] = spec if prev is None or len(spec) > len(prev) else prev

    for name, extras in wanted:
        visit(name, extras)
    return sorted(out.values(), key=str.lower)


if __name__ == "__main__":
    args, excluded = sys.argv[1:], set()
    while len(args) >= 2 and args[0] == "--exclude":
        excluded.add(_norm(args[1]))
        args = args[2:]
    try:
        print("\n".join(requirements(args, exclude=frozenset(excluded))))
    except (OSError, KeyError, ValueError) as exc:
        sys.exit(f"requirements.py: {exc}")
