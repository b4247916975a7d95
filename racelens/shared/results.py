"""Audit results: what was done to the data (a :class:`Condition`) and how predictable race stayed.

An :class:`AuditResult` is written as ``result.json`` (schema ``racelens.audit/1``); the shape is
the one in DESIGN.md, key for key, so the combined report can read results of either modality.
:class:`Estimate` and :class:`AUCBlock` are the metrics' typed estimates
(:mod:`racelens.shared.metrics.estimate`), re-exported here.

Example
-------
>>> cond = Condition("lowpass", {"radius": 10})
>>> cond.label
'lowpass(radius=10)'
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from racelens.errors import ConfigError, SchemaError
from racelens.shared.metrics.estimate import AUCBlock, Estimate
from racelens.shared.metrics.estimate import finite_or_none as _num
from racelens.shared.run_files import read_run_document, write_run_document

__all__ = [
    "SCHEMA_ID",
    "Modality",
    "Estimate",
    "AUCBlock",
    "Condition",
    "Strength",
    "ConditionResult",
    "SkippedRow",
    "DataSummary",
    "AuditResult",
    "parse_conditions",
    "evaluate_condition",
    "library_versions",
]

SCHEMA_ID = "racelens.audit/1"
Modality = Literal["imaging", "text", "covariates", "human"]
_MODALITIES = ("imaging", "text", "covariates", "human")  # human: a reader study scored like a model


@dataclass(frozen=True)
class Condition:
    """What was done to the payload before asking the question.

    Parameters
    ----------
    name
        ``original``, an image perturbation (``lowpass``, ``highpass``, ...) or ``redact``.
    params
        The perturbation's parameters (``{"radius": 10}``) or the redaction level
        (``{"level": "explicit"}``).
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({inner})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted((k, str(v)) for k, v in self.params.items()))))


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_conditions(spec: str) -> list[Condition]:
    """Parse a CLI condition spec into one condition per value.

    ``"lowpass:radius=1,10,50"`` gives three ``lowpass`` conditions; several parameters are
    separated by ``;`` and crossed: ``"bandpass:inner=10;outer=50,100"``. ``"equalize"`` has none.

    Raises
    ------
    ConfigError
        When the spec is malformed.
    """
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty condition; expected NAME or NAME:param=v1,v2")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name.replace("_", "").isalnum():
        raise ConfigError(f"condition {spec!r}: bad name {name!r}")
    if not rest.strip():
        return [Condition(name)]
    grid: list[tuple[str, list[Any]]] = []
    for part in rest.split(";"):
        key, eq, values = part.partition("=")
        if not eq or not key.strip() or not values.strip():
            raise ConfigError(f"condition {spec!r}: expected param=value[,value...], got {part!r}")
        grid.append((key.strip(), [_parse_value(v.strip()) for v in values.split(",") if v.strip()]))
    out: list[dict[str, Any]] = [{}]
    for key, values in grid:
        out = [{**d, key: v} for d in out for v in values]
    return [Condition(name, d) for d in out]


@dataclass(frozen=True)
class Strength:
    """Where a condition sits on its family's strength axis, supplied by whoever built it.

    An image perturbation knows its axis (a small low-pass radius is a strong change, a small
    high-pass radius a weak one); a redaction level knows its rank. The shared layer only draws
    it: ``family`` is the panel, ``rank`` sorts conditions from mild to strong, ``label`` is the
    tick, ``parameter``/``value`` say what was varied. ``title`` names the family's panel.

    Example
    -------
    >>> Strength("lowpass", "radius", 10, (-10.0,), "10").tick
    '10'
    """

    family: str
    parameter: str | None
    value: Any
    rank: tuple[Any, ...]
    label: str
    title: str = ""

    @property
    def key(self) -> tuple[Any, ...]:
        """The sort key (``rank``), mild to strong."""
        return self.rank

    @property
    def tick(self) -> str:
        """The axis label (``label``)."""
        return self.label

    def to_dict(self) -> dict[str, Any]:
        rank = [r if not isinstance(r, float) or math.isfinite(r) else str(r) for r in self.rank]
        d = {"family": self.family, "parameter": self.parameter, "value": self.value,
             "rank": rank, "label": self.label}
        if self.title:
            d["title"] = self.title
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Strength:
        try:
            rank = tuple(float(r) if r in ("inf", "-inf") else r for r in d["rank"])
            return cls(str(d["family"]), d.get("parameter"), d.get("value"), rank,
                       str(d["label"]), str(d.get("title", "")))
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"a strength needs 'family', 'rank' and 'label'; got {d!r}") from exc


@dataclass(frozen=True)
class ConditionResult:
    """Race predictability under one condition.

    ``strength`` places the condition on its family's axis (``None``: not on one, like the
    original images, or a result written before conditions carried it; the report then asks
    the strength registry, :mod:`racelens.shared.report.registry`).
    """

    condition: Condition
    auc: AUCBlock
    p_value_vs_chance: float | None
    n_test: int
    extras: Mapping[str, Any] = field(default_factory=dict)
    strength: Strength | None = None

    @property
    def name(self) -> str:
        return self.condition.name

    @property
    def params(self) -> Mapping[str, Any]:
        return self.condition.params

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {**self.condition.to_dict(), "auc": self.auc.to_dict(),
                             "p_value_vs_chance": _num(self.p_value_vs_chance),
                             "n_test": int(self.n_test)}
        if self.strength is not None:
            d["strength"] = self.strength.to_dict()
        if self.extras:
            d["extras"] = dict(self.extras)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConditionResult:
        try:
            strength = d.get("strength")
            return cls(Condition(d["name"], dict(d.get("params", {}))), AUCBlock.from_dict(d["auc"]),
                       d.get("p_value_vs_chance"), int(d["n_test"]), dict(d.get("extras", {})),
                       Strength.from_dict(strength) if isinstance(strength, Mapping) else None)
        except KeyError as exc:
            raise SchemaError(f"a condition needs key {exc.args[0]!r}") from exc


class SkippedRow(NamedTuple):
    """An input row whose payload could not be used, and why.

    A named pair, so ``dict(cohort.skipped)`` maps sample ids to reasons.
    """

    sample_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"sample_id": str(self.sample_id), "reason": self.reason}


@dataclass(frozen=True)
class DataSummary:
    """Counts that account for every input row: ``n_samples + sum(excluded) + len(skipped)``."""

    n_samples: int
    n_patients: int
    groups: Mapping[str, int]
    excluded: Mapping[str, int] = field(default_factory=dict)
    skipped: Sequence[SkippedRow] = ()
    fingerprint: str = ""
    dataset: str | None = None

    @property
    def n_input_rows(self) -> int:
        return int(self.n_samples + sum(self.excluded.values()) + len(self.skipped))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "n_samples": int(self.n_samples), "n_patients": int(self.n_patients),
            "groups": {str(k): int(v) for k, v in self.groups.items()},
            "excluded": {str(k): int(v) for k, v in self.excluded.items()},
            "skipped": [s.to_dict() for s in self.skipped],
            "fingerprint": self.fingerprint,
        }
        if self.dataset is not None:
            d["dataset"] = self.dataset
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataSummary:
        try:
            return cls(int(d["n_samples"]), int(d["n_patients"]), dict(d["groups"]),
                       dict(d.get("excluded", {})),
                       tuple(SkippedRow(s["sample_id"], s["reason"]) for s in d.get("skipped", [])),
                       d.get("fingerprint", ""), d.get("dataset"))
        except KeyError as exc:
            raise SchemaError(f"'data' needs key {exc.args[0]!r}") from exc


def library_versions() -> dict[str, str]:
    """Versions of racelens and the libraries that shape its numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for pkg in ("racelens", "numpy", "scipy", "scikit-learn", "pandas", "torch", "torchvision",
                "transformers", "spacy", "presidio-analyzer", "pydicom", "fairlearn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    import platform

    out["python"] = platform.python_version()
    return out


@dataclass(frozen=True)
class AuditResult:
    """Everything one audit measured; serialised as ``result.json``."""

    modality: Modality
    data: DataSummary
    conditions: Sequence[ConditionResult]
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    extras: Mapping[str, Any] = field(default_factory=dict)
    racelens_version: str = ""
    created: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.modality not in _MODALITIES:
            raise ConfigError(f"modality must be one of {_MODALITIES}, got {self.modality!r}")
        if not self.racelens_version:
            from racelens import __version__

            object.__setattr__(self, "racelens_version", __version__)
        if not self.created:
            object.__setattr__(self, "created",
                               _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))

    def condition(self, name: str, **params: Any) -> ConditionResult:
        """The result of the first condition called ``name`` whose params include ``params``."""
        for c in self.conditions:
            if c.name == name and all(c.params.get(k) == v for k, v in params.items()):
                return c
        raise KeyError(f"no condition {name!r} with {params}")

    def with_extras(self, **extras: Any) -> AuditResult:
        return replace(self, extras={**self.extras, **extras})

    def to_dict(self) -> dict[str, Any]:
        d = {
            "schema": SCHEMA_ID, "modality": self.modality,
            "racelens_version": self.racelens_version, "created": self.created,
            "config": dict(self.config), "seed": int(self.seed), "data": self.data.to_dict(),
            "conditions": [c.to_dict() for c in self.conditions], "extras": dict(self.extras),
        }
        if self.versions:
            d["versions"] = dict(self.versions)
        return d

    def to_json(self) -> str:
        from racelens.shared.tables import json_default

        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=json_default)

    def write(self, path: str | Path) -> Path:
        """Write ``result.json`` atomically; ``path`` may be a run directory.

        The run directory also gets ``FILES.md``, which says which of its files are aggregates.
        """
        return write_run_document(path, "result.json", self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditResult:
        if d.get("schema") != SCHEMA_ID:
            raise SchemaError(f"not a racelens audit result: schema is {d.get('schema')!r}, "
                              f"expected {SCHEMA_ID!r}")
        try:
            return cls(modality=d["modality"], data=DataSummary.from_dict(d["data"]),
                       conditions=tuple(ConditionResult.from_dict(c) for c in d["conditions"]),
                       config=dict(d.get("config", {})), seed=int(d.get("seed", 0)),
                       extras=dict(d.get("extras", {})),
                       racelens_version=d.get("racelens_version", ""),
                       created=d.get("created", ""), versions=dict(d.get("versions", {})))
        except KeyError as exc:
            raise SchemaError(f"result.json needs key {exc.args[0]!r}") from exc

    @classmethod
    def from_json(cls, text: str) -> AuditResult:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SchemaError(f"result.json is not valid JSON: {exc}") from exc

    @classmethod
    def read(cls, path: str | Path) -> AuditResult:
        """Read ``result.json`` (or a run directory holding one)."""
        path, doc = read_run_document(path, "result.json")
        try:
            return cls.from_dict(doc)
        except SchemaError as exc:
            raise SchemaError(f"{path}: {exc}") from exc


def evaluate_condition(
    condition: Condition,
    y_true: Sequence[str] | np.ndarray,
    y_score: np.ndarray,
    classes: Sequence[str],
    *,
    patient_ids: Sequence[Any] | np.ndarray | None = None,
    ci: Literal["bootstrap", "delong"] = "bootstrap",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    extras: Mapping[str, Any] | None = None,
    strength: Strength | None = None,
) -> ConditionResult:
    """Score one condition: macro and per-group AUC with intervals, and a p-value against chance.

    Parameters
    ----------
    condition
        What was done to the payload.
    y_true
        Group name per test sample.
    y_score
        ``n x len(classes)`` scores (probabilities), columns in the order of ``classes``.
    classes
        Group names.
    patient_ids
        Patient per sample; the bootstrap resamples patients, not samples.
    ci
        ``bootstrap`` (patient-level, stratified) or ``delong``.
    strength
        The condition's place on its family's strength axis, supplied by whoever built the
        condition (a perturbation, a redaction level); stored in ``result.json``.
    """
    from racelens.shared.metrics import auc_with_ci, p_value_vs_chance

    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    block = auc_with_ci(y_true, y_score, classes, patient_ids=patient_ids, method=ci,
                        n_boot=n_boot, level=level, seed=seed)  # typed: notes kept
    # Clustered by patient: several samples of one patient are not independent evidence.
    p = p_value_vs_chance(y_true, y_score, classes, patient_ids=patient_ids)
    return ConditionResult(condition, block, float(p), int(len(y_true)),
                           dict(extras or {}), strength)
