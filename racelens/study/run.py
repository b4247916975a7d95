"""Run a study: every step in order, resumable, then the paper's numbers beside the measured ones.

The runner knows no command itself: it is handed a :class:`Commands` (the CLI hands it its own
Typer app, see ``racelens.cli.study``), checks each step's options against the command's, turns
them into the command line the user would type, and runs it. So a study step takes exactly the
options the command takes, and a new command is a new step kind with no change here.

Each finished step is recorded in ``OUT/study-state.json`` with a fingerprint of its command line
and of its inputs (size and modification time of every file or folder the command line names,
and the ``result.json`` of an input run folder); ``--resume`` skips a step whose fingerprint is
unchanged and whose output exists. ``OUT/study.json`` (schema ``racelens.study/1``) holds, for
every ``[[paper]]`` number, the measured estimate with its interval and the difference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from racelens.errors import ConfigError, DataError
from racelens.shared.results import AuditResult, Estimate
from racelens.shared.tables import atomic_write_json
from racelens.study.schema import PaperNumber, Step, Study, resolve

__all__ = ["STUDY_SCHEMA", "OptionSpec", "Commands", "PlannedStep", "Comparison", "StudyRun",
           "plan_study", "run_study", "compare_paper"]

STUDY_SCHEMA = "racelens.study/1"
_STATE = "study-state.json"


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command: its flag, whether it is a switch, whether it repeats."""

    flag: str
    is_flag: bool = False
    off_flag: str | None = None
    multiple: bool = False


class Commands(Protocol):
    """The commands a study can run (the CLI provides them)."""

    def options(self, command: Sequence[str]) -> Mapping[str, OptionSpec]:
        """Options of ``command`` by name (``batch-size``); ConfigError for an unknown command."""
        ...

    def run(self, argv: Sequence[str]) -> None:
        """Run one command line (without the program name); raise on failure."""
        ...


@dataclass(frozen=True)
class PlannedStep:
    """A step with its references resolved and its command line built."""

    step: Step
    options: Mapping[str, Any]
    argv: tuple[str, ...]

    @property
    def out(self) -> Path | None:
        v = self.options.get("out")
        return Path(str(v)) if v is not None else None


def _key(name: str) -> str:
    return name.replace("_", "-")


def _argv(step: Step, options: Mapping[str, Any], spec: Mapping[str, OptionSpec]) -> list[str]:
    argv = list(step.command)
    for name, value in options.items():
        opt = spec[name]
        if opt.is_flag:
            if not isinstance(value, bool):
                raise ConfigError(f"step {step.id!r}: option {name!r} is a switch; use true or false")
            if value:
                argv.append(opt.flag)
            elif opt.off_flag:
                argv.append(opt.off_flag)
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not opt.multiple:
            values = [",".join(map(str, value))]
        for v in values:
            if isinstance(v, bool) or isinstance(v, (dict, list)):
                raise ConfigError(f"step {step.id!r}: option {name!r} takes a value, got {v!r}")
            argv += [opt.flag, str(v)]
    return argv


def plan_study(study: Study, commands: Commands) -> list[PlannedStep]:
    """Check every step against its command and build its command line (no step runs)."""
    planned: list[PlannedStep] = []
    resolved: dict[str, dict[str, Any]] = {}
    for step in study.steps:
        where = f"{study.source}: step {step.id!r} ({step.run})"
        spec = commands.options(step.command)
        opts: dict[str, Any] = {}
        for name, value in step.options.items():
            key = _key(name)
            if key not in spec:
                raise ConfigError(f"{where}: unknown option {name!r}; `racelens {step.run}` takes "
                                  + ", ".join(sorted(spec)))
            opts[key] = resolve(value, study, resolved, f"{where}: option {name!r}")
        resolved[step.id] = opts
        planned.append(PlannedStep(step, opts, tuple(_argv(step, opts, spec))))
    return planned


def _signature(p: Path) -> Any:
    st = p.stat()
    sig: list[Any] = [p.is_dir(), st.st_size if p.is_file() else None, st.st_mtime_ns]
    if p.is_dir() and (p / "result.json").is_file():
        sig.append(hashlib.sha256((p / "result.json").read_bytes()).hexdigest())
    return sig


def _fingerprint(ps: PlannedStep) -> str:
    inputs: dict[str, Any] = {}
    for token in ps.argv:
        if token.startswith("-") or (ps.out is not None and token == str(ps.out)):
            continue
        p = Path(token)
        if len(token) < 4096 and p.exists():
            inputs[token] = _signature(p)
    blob = json.dumps({"argv": ps.argv, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Comparison:
    """A paper's number beside the one measured on the user's data."""

    paper: PaperNumber
    measured: Estimate | None
    n_test: int | None
    difference: Estimate | None
    within: bool | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        p = self.paper
        return {"step": p.step, "condition": p.condition, "group": p.group, "metric": p.metric,
                "source": p.source,
                "paper": {"value": p.value, "low": p.low, "high": p.high, "reported": p.reported},
                "measured": self.measured.to_dict() if self.measured else None,
                "n_test": self.n_test,
                "difference": self.difference.to_dict() if self.difference else None,
                "within_interval": self.within, "note": self.note or p.note}


def _measured(result: AuditResult, p: PaperNumber) -> tuple[Estimate | None, int | None, str]:
    cond = next((c for c in result.conditions if c.condition.label == p.condition), None)
    if cond is None:
        return None, None, (f"no condition {p.condition!r} in the result (it has "
                            f"{', '.join(c.condition.label for c in result.conditions)})")
    if p.metric != "auc":  # a subgroup error rate of a disease-task run (the fairness attachment)
        row = cond.extras.get("fairness", {}).get("by_group", {}).get(p.group, {})
        if p.metric not in row:
            return None, cond.n_test, (f"no {p.metric} for group {p.group!r} in the result (run "
                                       "the step with --task)")
        return Estimate.from_dict(row[p.metric]), cond.n_test, ""
    est = cond.auc.macro if p.group == "macro" else cond.auc.per_group.get(p.group)
    if est is None:
        return None, cond.n_test, f"no group {p.group!r} in the result"
    return est, cond.n_test, ""


def _difference(est: Estimate, p: PaperNumber) -> tuple[Estimate | None, bool | None]:
    if est.estimate is None:
        return None, None
    lo, hi = (p.value, p.value) if p.value is not None else (p.low, p.high)
    assert lo is not None and hi is not None

    def gap(x: float | None) -> float | None:  # distance to the reported value or range
        if x is None:
            return None
        return x - hi if x > hi else (x - lo if x < lo else 0.0)

    diff = Estimate(gap(est.estimate), gap(est.ci_low), gap(est.ci_high))
    within = None
    if est.ci_low is not None and est.ci_high is not None:
        within = est.ci_low <= hi and est.ci_high >= lo
    return diff, within


def compare_paper(study: Study, planned: Sequence[PlannedStep]) -> list[Comparison]:
    """Every ``[[paper]]`` number of the study beside its measurement (None where not run)."""
    by_id = {ps.step.id: ps for ps in planned}
    out: list[Comparison] = []
    for p in study.paper:
        ps = by_id[p.step]
        path = ps.out / "result.json" if ps.out is not None else None
        if path is None or not path.is_file():
            out.append(Comparison(p, None, None, None, None, f"step {p.step!r} has no result.json yet"))
            continue
        est, n, note = _measured(AuditResult.read(path), p)
        diff, within = _difference(est, p) if est is not None else (None, None)
        out.append(Comparison(p, est, n, diff, within, note))
    return out


@dataclass(frozen=True)
class StudyRun:
    """What :func:`run_study` did: steps run and skipped, the comparison, the files written."""

    study: Study
    ran: tuple[str, ...]
    skipped: tuple[str, ...]
    comparisons: tuple[Comparison, ...]
    files: Mapping[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": STUDY_SCHEMA, "study": self.study.name, "title": self.study.title,
                "seed": self.study.seed,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "steps": [{"id": s.id, "run": s.run,
                           "status": "ran" if s.id in self.ran else
                           ("skipped (unchanged)" if s.id in self.skipped else "not run")}
                          for s in self.study.steps],
                "paper": [c.to_dict() for c in self.comparisons]}


def _read_state(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: the study's state file is damaged ({exc}); delete it to run "
                        "every step again") from exc
    return state if isinstance(state, dict) else {}


def run_study(study: Study, commands: Commands, *, only: Sequence[str] = (), resume: bool = False,
              report: bool = True, progress: Callable[[str], None] | None = None) -> StudyRun:
    """Run the study's steps (or ``only`` those), then compare with the paper and build the report.

    Parameters
    ----------
    resume
        Skip a step whose command line and inputs are unchanged since it finished and whose
        output exists; pass ``--resume`` to commands that take it (a half-trained audit goes on).
    """
    say = progress or (lambda _m: None)
    planned = plan_study(study, commands)
    unknown = sorted(set(only) - {p.step.id for p in planned})
    if unknown:
        raise ConfigError(f"--only {unknown[0]!r}: not a step of {study.source}; steps are "
                          + ", ".join(p.step.id for p in planned))
    study.out.mkdir(parents=True, exist_ok=True)
    state_path = study.out / _STATE
    state = _read_state(state_path)
    ran: list[str] = []
    skipped: list[str] = []
    for i, ps in enumerate(planned, 1):
        sid = ps.step.id
        if only and sid not in only:
            continue
        fp = _fingerprint(ps)
        done = state.get(sid, {})
        if resume and done.get("fingerprint") == fp and (ps.out is None or ps.out.exists()):
            say(f"[{i}/{len(planned)}] {sid}: unchanged since {done.get('finished')}, skipped")
            skipped.append(sid)
            continue
        argv = list(ps.argv)
        if resume and "resume" in commands.options(ps.step.command) and "--resume" not in argv:
            argv.append("--resume")
        say(f"[{i}/{len(planned)}] {sid}: racelens {ps.step.run}")
        commands.run(argv)
        state[sid] = {"fingerprint": _fingerprint(ps),
                      "finished": datetime.now(UTC).isoformat(timespec="seconds")}
        atomic_write_json(state_path, state)
        ran.append(sid)
    comparisons = tuple(compare_paper(study, planned))
    run = StudyRun(study, tuple(ran), tuple(skipped), comparisons)
    files = {"study": atomic_write_json(study.out / "study.json", run.to_dict())}
    if report:
        say("report: racelens report")
        commands.run(["report", str(study.out), "--out", str(study.out / "report.html")])
        files["report"] = study.out / "report.html"
    return StudyRun(study, run.ran, run.skipped, comparisons, files)
