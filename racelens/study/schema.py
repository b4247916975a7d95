"""The study file: data sources, steps with their CLI options, and the paper's numbers.

A study is a TOML file (read with the standard library's :mod:`tomllib`)::

    [study]
    name = "gichoya2022-mimic"
    title = "Gichoya et al. 2022, MIMIC-CXR"
    out = "runs/gichoya2022-mimic"   # every step's output goes under it
    seed = 0

    [data]                          # paths the user fills in
    images_root = "/data/mimic-cxr-jpg/2.1.0"

    [[steps]]
    id = "manifest"
    run = "imaging manifest mimic-cxr"          # a racelens command, as on the command line
    options = { images-root = "{data.images_root}", out = "{out}/manifest.parquet" }

    [[paper]]                       # a published number, beside the measured one
    step = "audit"                  # the step whose result.json holds the measurement
    condition = "original"          # a condition label of that result
    group = "Asian"                 # a group, or "macro"
    value = 0.986                   # or: low = 0.91, high = 0.96 for a reported range
    source = "Table 2"
    metric = "auc"                  # or a subgroup error rate of a --task run: tpr, fpr, ...

Step options are the command's own options, named as on the command line without the dashes
(``batch-size``; ``batch_size`` is accepted too); :func:`load_study` checks them against the
command when the runner knows the commands (unknown keys are refused, naming the key). Values
may refer to ``{out}``, ``{seed}``, ``{study.KEY}``, ``{data.KEY}`` and ``{steps.ID.KEY}`` (an
option of an earlier step, e.g. ``{steps.manifest.out}``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racelens.errors import ConfigError

__all__ = ["Step", "PaperNumber", "Study", "load_study", "parse_study", "apply_overrides",
           "parse_override"]

_STUDY_KEYS = {"name", "title", "out", "seed", "description", "preset"}
_TOP_KEYS = {"study", "data", "steps", "paper"}
_STEP_KEYS = {"id", "run", "options", "description"}
_PAPER_KEYS = {"step", "condition", "group", "value", "low", "high", "source", "note", "metric"}
_ID = re.compile(r"^[A-Za-z][\w-]*$")
_REF = re.compile(r"\{([A-Za-z_][\w.-]*)\}")


@dataclass(frozen=True)
class Step:
    """One command of a study: ``run`` (``"imaging audit"``) with its ``options``."""

    id: str
    run: str
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def command(self) -> tuple[str, ...]:
        return tuple(self.run.split())


@dataclass(frozen=True)
class PaperNumber:
    """A number a paper reports (a value, or a range ``low``–``high``) and where it comes from."""

    step: str
    condition: str
    group: str
    source: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""
    metric: str = "auc"

    def __post_init__(self) -> None:
        if self.value is None and (self.low is None or self.high is None):
            raise ConfigError(f"paper number for {self.step}/{self.condition}/{self.group}: give "
                              "'value' or both 'low' and 'high'")

    @property
    def reported(self) -> str:
        return f"{self.value:.3f}" if self.value is not None else f"{self.low:.2f}–{self.high:.2f}"


@dataclass(frozen=True)
class Study:
    """A parsed, validated study file (references not yet resolved)."""

    name: str
    out: Path
    seed: int
    steps: tuple[Step, ...]
    data: Mapping[str, Any] = field(default_factory=dict)
    paper: tuple[PaperNumber, ...] = ()
    title: str = ""
    description: str = ""
    source: str = "<string>"

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise ConfigError(f"{self.source}: no step {step_id!r}; steps are "
                          f"{', '.join(s.id for s in self.steps)}")


def _unknown(where: str, keys: Sequence[str], allowed: set[str]) -> None:
    bad = sorted(set(keys) - allowed)
    if bad:
        raise ConfigError(f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(sorted(allowed))}")


def _table(doc: Mapping[str, Any], key: str, src: str) -> Mapping[str, Any]:
    v = doc.get(key, {})
    if not isinstance(v, Mapping):
        raise ConfigError(f"{src}: [{key}] must be a table")
    return v


def parse_study(text: str, *, source: str = "<string>", base: Path | None = None) -> Study:
    """Parse and validate a study file's text; relative ``out`` is taken from ``base``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
    _unknown(source, list(doc), _TOP_KEYS)
    head = _table(doc, "study", source)
    _unknown(f"{source}: [study]", list(head), _STUDY_KEYS)
    if "name" not in head:
        raise ConfigError(f"{source}: [study] needs 'name'")
    seed = head.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"{source}: study.seed must be an integer, got {seed!r}")
    data = dict(_table(doc, "data", source))
    raw_steps = doc.get("steps", [])
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ConfigError(f"{source}: a study needs at least one [[steps]] entry")
    steps: list[Step] = []
    for i, s in enumerate(raw_steps):
        where = f"{source}: steps[{i}]"
        if not isinstance(s, Mapping):
            raise ConfigError(f"{where} must be a table")
        _unknown(where, list(s), _STEP_KEYS)
        for k in ("id", "run"):
            if not isinstance(s.get(k), str) or not s[k].strip():
                raise ConfigError(f"{where}: needs '{k}' (a string)")
        if not _ID.match(s["id"]):
            raise ConfigError(f"{where}: id {s['id']!r} must start with a letter and hold letters, "
                              "digits, '_' or '-'")
        if any(x.id == s["id"] for x in steps):
            raise ConfigError(f"{where}: id {s['id']!r} is used twice")
        opts = s.get("options", {})
        if not isinstance(opts, Mapping):
            raise ConfigError(f"{where}.options must be a table")
        steps.append(Step(s["id"], " ".join(s["run"].split()), dict(opts), s.get("description", "")))
    paper: list[PaperNumber] = []
    for i, p in enumerate(doc.get("paper", [])):
        where = f"{source}: paper[{i}]"
        if not isinstance(p, Mapping):
            raise ConfigError(f"{where} must be a table")
        _unknown(where, list(p), _PAPER_KEYS)
        for k in ("step", "condition", "group", "source"):
            if not isinstance(p.get(k), str):
                raise ConfigError(f"{where}: needs '{k}' (a string)")
        if p["step"] not in {s.id for s in steps}:
            raise ConfigError(f"{where}: step {p['step']!r} is not a step of this study")
        try:
            paper.append(PaperNumber(p["step"], p["condition"], p["group"], p["source"],
                                     p.get("value"), p.get("low"), p.get("high"), p.get("note", ""),
                                     p.get("metric", "auc")))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    out = Path(str(head.get("out", f"runs/{head['name']}")))
    if base is not None and not out.is_absolute():
        out = base / out
    return Study(name=str(head["name"]), out=out, seed=seed, steps=tuple(steps), data=data,
                 paper=tuple(paper), title=str(head.get("title", "")),
                 description=str(head.get("description", "")), source=source)


def load_study(path: str | Path, overrides: Sequence[str] = ()) -> Study:
    """Read a study file (``out`` relative to the current folder) and apply ``KEY=VALUE`` overrides."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such study file; write one with `racelens study init`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the study file ({exc})") from exc
    return apply_overrides(parse_study(text, source=str(p)), overrides)


def parse_override(text: str) -> tuple[str, Any]:
    """``"audit.epochs=1"`` -> ``("audit.epochs", 1)``: the value is read as TOML, else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override {text!r}; use STEP.OPTION=VALUE, data.KEY=VALUE, "
                          "study.out=PATH or study.seed=N")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key.strip(), parsed


def apply_overrides(study: Study, overrides: Sequence[str]) -> Study:
    """Set ``STEP.OPTION``, ``data.KEY``, ``study.out`` or ``study.seed`` from the command line."""
    from dataclasses import replace

    for text in overrides:
        key, value = parse_override(text)
        head, _, rest = key.partition(".")
        if not rest:
            raise ConfigError(f"override {text!r}: name a step option (STEP.OPTION), data.KEY, "
                              "study.out or study.seed")
        if head == "data":
            study = replace(study, data={**study.data, rest: value})
        elif head == "study":
            if rest == "out":
                study = replace(study, out=Path(str(value)))
            elif rest == "seed" and isinstance(value, int):
                study = replace(study, seed=value)
            else:
                raise ConfigError(f"override {text!r}: study.out=PATH or study.seed=N")
        else:
            step = study.step(head)
            new = replace(step, options={**step.options, rest: value})
            study = replace(study, steps=tuple(new if s.id == head else s for s in study.steps))
    return study


def resolve(value: Any, study: Study, resolved: Mapping[str, Mapping[str, Any]], where: str) -> Any:
    """Replace ``{out}``, ``{seed}``, ``{data.K}``, ``{study.K}``, ``{steps.ID.K}`` in a value."""
    if isinstance(value, list):
        return [resolve(v, study, resolved, where) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        ref = m.group(1)
        head, _, rest = ref.partition(".")
        if ref == "out":
            return str(study.out)
        if ref == "seed":
            return str(study.seed)
        if head == "data" and rest in study.data:
            return str(study.data[rest])
        if head == "study" and rest in {"name", "title"}:
            return str(getattr(study, rest))
        if head == "steps":
            sid, _, opt = rest.partition(".")
            if sid in resolved and opt in resolved[sid]:
                return str(resolved[sid][opt])
            if sid in resolved:
                raise ConfigError(f"{where}: {{{ref}}}: step {sid!r} has no option {opt!r}")
            raise ConfigError(f"{where}: {{{ref}}} names step {sid!r}, which is not an earlier step")
        if head == "data":
            raise ConfigError(f"{where}: {{{ref}}}: [data] has no key {rest!r}; fill it in the "
                              f"study file or pass --set data.{rest}=PATH")
        raise ConfigError(f"{where}: unknown reference {{{ref}}}")

    return _REF.sub(sub, value)
