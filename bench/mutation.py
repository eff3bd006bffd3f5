"""Mutation testing of the core modules with mutmut: ``make mutation`` (not part of ``make test``).

Each core module is mutated on its own, against only the tests that exercise it, in a scratch
copy of the repository (``.mutation/<module>/``), so one module's run never sees another's
mutants and the machine's other work is not starved: one worker, and a wall-clock limit per
module, at low priority (``nice`` 10). For each mutant mutmut runs only those of the module's
tests that reached the mutated function in its first, clean run, fastest first, and stops at
the first failure. Prints, per module, mutants killed / survived / no test / timed out and the
kill rate (killed + timed out + crashed over all tested), and writes ``.mutation/report.md`` (and
``.mutation/<module>/survivors.md``) with the diff of every survivor.

    python -m bench.mutation                      # every module
    python -m bench.mutation metrics escalation   # only these
    MUTATION_TIMEOUT_S=1200 python -m bench.mutation chain
    MUTATION_RESUME=1 python -m bench.mutation solver   # continue a time-limited run
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from planner.settings import PROJECT_ROOT, get_settings


@dataclass(frozen=True)
class Target:
    source: str
    tests: tuple[str, ...]
    deselect: tuple[str, ...] = ()
    """Slow tests of that set left out of the run (each names why in ``TARGETS``)."""


DISPATCH_TESTS = (
    "tests/dispatch/test_candidates.py",
    "tests/dispatch/test_solver.py",
    "tests/dispatch/test_dispatch_oracles.py",
    "tests/dispatch/test_holding.py",  # diversions: their arcs and explanations
)

TARGETS: dict[str, Target] = {
    "solver": Target("planner/dispatch/solver.py", DISPATCH_TESTS),
    "candidates": Target("planner/dispatch/candidates.py", DISPATCH_TESTS),
    "explain": Target("planner/dispatch/explain.py", DISPATCH_TESTS),
    "coverage": Target(
        "planner/dispatch/coverage.py",
        (
            "tests/dispatch/test_coverage.py",
            "tests/dispatch/test_coverage_model.py",
            "tests/dispatch/test_dispatch_oracles.py",
        ),
    ),
    "chain": Target(
        "planner/log/chain.py",
        ("tests/log/test_log_oracles.py", "tests/log/test_incident_log_bulk.py"),
    ),
    "incident_log": Target(
        "planner/log/incident_log.py",
        ("tests/log",),
        # 14 s of CLI subprocesses per run; the same checks run in-process in the log tests.
        deselect=(
            "tests/log/test_log_signing.py::test_cli_keygen_checkpoint_and_verify_exit_codes",
        ),
    ),
    "state": Target(
        "planner/centre/state.py",
        (
            "tests/centre/test_centre_state.py",
            "tests/centre/test_state_oracles.py",
            "tests/centre/test_state_moves.py",
            "tests/centre/test_events.py",
        ),
    ),
    "escalation": Target(
        "planner/centre/escalation.py",
        ("tests/centre/test_escalation.py", "tests/centre/test_escalation_oracles.py"),
    ),
    "metrics": Target(
        "planner/sim/metrics.py",
        ("tests/sim/test_sim_metrics.py", "tests/sim/test_metrics_oracles.py"),
    ),
    "region": Target(
        "planner/network/region.py",
        (
            "tests/network/test_region_base.py",
            "tests/network/test_region_oracles.py",
            "tests/network/test_matrix_region.py",
        ),
    ),
    "road_region": Target(
        "planner/network/road_region.py",
        ("tests/network/test_road_region_cases.py", "tests/network/test_region_oracles.py"),
    ),
    "matrix_region": Target(
        "planner/network/matrix_region.py",
        (
            "tests/network/test_matrix_region.py",
            "tests/network/test_matrix_files.py",
            "tests/network/test_region_base.py",
            "tests/network/test_region_oracles.py",
        ),
    ),
}
"""Each module's own tests: the unit and oracle tests of that layer, not the engine, API or
simulator suites that also pass through it (those would multiply the run time)."""

WORK = PROJECT_ROOT / ".mutation"
STATUS = {0: "survived", 1: "killed", 3: "killed", 24: "timeout", -24: "timeout", 36: "timeout"}
STATUS |= {152: "timeout", 255: "timeout", 5: "no tests", 33: "no tests", 34: "skipped"}
STATUS |= {-11: "crashed", -6: "crashed"}
"""mutmut's exit codes. A mutant that crashed the test process (a segfault from an index array
written past its end, an abort from OR-Tools' own input checks) was caught: it counts as
killed."""


def _copy_repo(dest: Path, *, keep: bool = False) -> None:
    """The tracked files (a fresh clone's content), without the virtualenv or caches; ``keep``:
    copied over what is there (file times kept, so unchanged sources stay unchanged)."""
    if dest.exists() and not keep:
        shutil.rmtree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        src = PROJECT_ROOT / name
        if name.startswith(".mutation/") or not src.is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _config(target: Target) -> str:
    lines = [
        "[mutmut]",
        "source_paths=planner",
        f"only_mutate={target.source}",
        "pytest_add_cli_args_test_selection=",
        *(f"    {t}" for t in target.tests),
        "pytest_add_cli_args=",
        "    -q",
        "    -p",
        "    no:cacheprovider",
        "    -m",
        "    not browser",
        *(f"    --deselect={t}" for t in target.deselect),
        "also_copy=",
        "    data",
        "    scenarios",
        "    api",
        # mutmut stops a mutant's run after (tests' usual time + 1 s) × this in wall-clock time
        # and counts it as a time-out (killed). At nice 10 beside other work a normal run can
        # take ten times longer than alone, so a tight factor turns survivors into time-outs.
        "timeout_multiplier=30.0",
    ]
    return "\n".join(lines) + "\n"


def _environment() -> dict[str, str]:
    """The shared data folder, and no PostgreSQL: the mutants run against the SQLite log, so a
    run on a fresh clone and one beside a database server count the same tests (the
    PostgreSQL-only paths show as "no tests")."""
    env = {k: v for k, v in os.environ.items() if k != "PLANNER_TEST_POSTGRES_URL"}
    return env | {"PLANNER_DATA_DIR": str(get_settings().data_dir)}


def _pyproject_without_mutmut(text: str) -> str:
    """mutmut prefers ``[tool.mutmut]`` in pyproject.toml; the per-module setup.cfg must win."""
    return text.replace("[tool.mutmut]", "[tool.mutmut-unused]")


@dataclass
class Result:
    module: str
    counts: dict[str, int]
    survivors: list[str]
    complete: bool

    @property
    def killed(self) -> int:
        """Killed by a failing test, by running past its time limit (an endless loop) or by
        crashing the test process."""
        return sum(self.counts.get(k, 0) for k in ("killed", "timeout", "crashed"))

    @property
    def tested(self) -> int:
        return self.killed + self.counts.get("survived", 0)

    @property
    def rate(self) -> float | None:
        return self.killed / self.tested if self.tested else None


def run_module(name: str, target: Target, timeout_s: float, *, resume: bool = False) -> Result:
    """Mutate one module in its own scratch copy, against its own tests.

    ``resume`` (``MUTATION_RESUME=1``) keeps a previous run's scratch copy and results: the
    tracked files are copied over it (mutmut re-mutates only functions whose source changed
    and picks up new tests), the mutants not yet checked are run, and then every survivor and
    time-out is run again against the current tests. On a busy machine a module can so be
    finished over several time-limited runs."""
    work = WORK / name
    resuming = resume and (work / "mutants").is_dir()
    _copy_repo(work, keep=resuming)
    (work / "setup.cfg").write_text(_config(target))
    pyproject = work / "pyproject.toml"
    pyproject.write_text(_pyproject_without_mutmut(pyproject.read_text()))
    env = _environment()
    deadline = time.monotonic() + timeout_s
    with (work / "mutmut.log").open("a" if resuming else "w") as log:
        timed_out = _mutmut(work, [], env, log, deadline)
        if resuming and not timed_out:
            again = _results(work, ("survived", "timeout"))[1]
            if again:
                timed_out = _mutmut(work, again, env, log, deadline)
    counts, survivors = _results(work)
    complete = not timed_out and counts.get("not checked", 0) == 0 and bool(counts)
    return Result(target.source, counts, _diffs(work, survivors, env), complete)


def _mutmut(
    work: Path, mutants: list[str], env: dict[str, str], log: IO[str], deadline: float
) -> bool:
    """``mutmut run`` (only ``mutants`` if given) until done or ``deadline``; True if cut off."""
    mutmut = str(Path(sys.executable).parent / "mutmut")
    # Its own process group, so a time-out also ends the forked mutant workers.
    proc = subprocess.Popen(
        [mutmut, "run", "--max-children", "1", *mutants],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: os.nice(10),
    )
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        return True
    return False


def _results(
    work: Path, listed: tuple[str, ...] = ("survived",)
) -> tuple[dict[str, int], list[str]]:
    """Mutants by status, and the names (sorted) of those with a ``listed`` status (default:
    the survivors), from mutmut's result files."""
    counts: dict[str, int] = {}
    survivors: list[str] = []
    for meta in (work / "mutants").rglob("*.py.meta"):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for mutant, code in codes.items():
            status = "not checked" if code is None else STATUS.get(code, "suspicious")
            counts[status] = counts.get(status, 0) + 1
            if status in listed:
                survivors.append(mutant)
    return counts, sorted(survivors)


_SHOW = """
import sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
for name in sys.argv[1:]:
    diff = get_diff_for_mutant(name, path=find_mutant(name).path).strip()
    print(f"#### {name}\\n\\n```diff\\n{diff}\\n```\\n")
"""


def _diffs(work: Path, mutants: list[str], env: dict[str, str]) -> list[str]:
    """The survivors' diffs from one process (``mutmut show`` per mutant loads everything each
    time: minutes for a module with many survivors)."""
    if not mutants:
        return []
    shown = subprocess.run(
        [sys.executable, "-c", _SHOW, *mutants],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return [shown.stdout or shown.stderr]


PLANTED = [
    (
        "explain: equally urgent counted as more urgent (< to <=)",
        "planner/dispatch/explain.py",
        '"more urgent": other & (other_pri < own_pri),',
        '"more urgent": other & (other_pri <= own_pri),',
        "tests/dispatch/test_dispatch_oracles.py::test_unmet_reason_counts_equal_urgency_as_equal",
    ),
    (
        "chain: personal hash ignores its salt",
        "planner/log/chain.py",
        'hashlib.sha256(bytes.fromhex(salt) + personal_json.encode("utf-8"))',
        'hashlib.sha256(personal_json.encode("utf-8"))',
        "tests/log/test_log_oracles.py::test_personal_hash_golden_vectors",
    ),
    (
        "incident_log: 'redacted' audit outcome logged as 'none'",
        "planner/log/incident_log.py",
        'outcome = "redacted"',
        'outcome = "none"',
        "tests/log/test_log_oracles.py::test_every_personal_read_outcome_is_audited",
    ),
    (
        "escalation: worst recommended ETA instead of the best",
        "planner/centre/escalation.py",
        'if a.eta_s < best.get(a.incident, float("inf")):',
        'if a.eta_s > best.get(a.incident, float("-inf")):',
        "tests/centre/test_escalation_oracles.py"
        "::test_eta_rule_reads_the_best_recommended_eta_not_the_worst",
    ),
    (
        "metrics: t-quantile at 0.95 instead of 0.975",
        "planner/sim/metrics.py",
        "stats.t.interval(level, x.size - 1",
        "stats.t.interval(2 * level - 1, x.size - 1",
        "tests/sim/test_metrics_oracles.py::test_t_interval_by_hand",
    ),
    (
        "coverage: priority weights replaced by 1.0",
        "planner/dispatch/coverage.py",
        "[weight_of(options, inc.priority) for inc in problem.incidents]",
        "[1.0 for inc in problem.incidents]",
        "tests/dispatch/test_dispatch_oracles.py::test_coverage_charge_is_weighted_by_priority",
    ),
]
"""The six bugs of issue 17 that once survived the whole suite, each with the test that must
now fail. Planted one at a time in a scratch copy, never in the working tree."""


def run_planted() -> bool:
    """Plant each known bug in a scratch copy and run its named test; True if all are caught."""
    work = WORK / "planted"
    _copy_repo(work)
    caught = True
    for label, path, old, new, test in PLANTED:
        source = work / path
        original = source.read_text()
        if original.count(old) != 1:
            print(f"  ?  {label}: the code changed, the mutant no longer applies ({path})")
            caught = False
            continue
        source.write_text(original.replace(old, new))
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider", "-x"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
                env=_environment(),
            )
        finally:
            source.write_text(original)
        ok = run.returncode == 1
        caught &= ok
        print(f"  {'killed  ' if ok else 'SURVIVED'} {label}  by {test}", flush=True)
    return caught


def main(argv: list[str]) -> int:
    names = argv or ["planted", *TARGETS]
    unknown = [n for n in names if n not in TARGETS and n != "planted"]
    if unknown:
        print(f"error: unknown module {', '.join(unknown)} (have: planted, {', '.join(TARGETS)})")
        return 2
    timeout_s = float(os.environ.get("MUTATION_TIMEOUT_S", "2700"))
    resume = os.environ.get("MUTATION_RESUME", "") not in ("", "0")
    WORK.mkdir(exist_ok=True)
    status = 0
    if "planted" in names:
        print("planted bugs of issue 17:", flush=True)
        status = 0 if run_planted() else 1
    results: dict[str, Result] = {}
    for name in names:
        if name == "planted":
            continue
        result = results[name] = run_module(name, TARGETS[name], timeout_s, resume=resume)
        rate = "n/a" if result.rate is None else f"{result.rate:.1%}"
        note = "" if result.complete else "  (incomplete: time limit or no mutants)"
        print(
            f"{name:14} killed {result.killed:4} of {result.tested:4}  {rate:>6}"
            f"  {dict(sorted(result.counts.items()))}{note}",
            flush=True,
        )
    killed = sum(r.killed for r in results.values())
    tested = sum(r.tested for r in results.values())
    if tested:
        print(f"{'total':14} killed {killed:4} of {tested:4}  {killed / tested:.1%}")
    report = ["# Surviving mutants (python -m bench.mutation)\n"]
    for name, result in results.items():
        section = [f"## {name} ({result.module})\n", f"{dict(sorted(result.counts.items()))}\n"]
        section.extend(result.survivors)
        (WORK / name / "survivors.md").write_text("\n".join(section))
        report.extend(section)
    (WORK / "report.md").write_text("\n".join(report))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
