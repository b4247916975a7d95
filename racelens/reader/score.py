"""Score a reader study like a model: answers pooled into one macro AUC, readers, agreement.

:func:`score_study` reads the readers' answer CSVs (``item_id, reader, guess`` with optional
``p_<Group>`` confidences and ``seconds``), checks every row against the study's key, and returns
an :class:`~racelens.shared.results.AuditResult` with ``modality="human"`` and one condition (the
study's: ``original`` for images, ``redact(level=L)`` for notes):

- its AUC is the macro one-vs-rest AUC over all readers' answers pooled, with the confidences as
  scores where given and the one-hot guess otherwise (``cant_tell`` scores ``1/k`` for every
  group), with a patient-level bootstrap interval (:func:`racelens.shared.results.evaluate_condition`);
- ``extras.readers``: each reader's macro AUC (with interval), accuracy (``cant_tell`` is not
  correct), ``cant_tell`` rate and how many items they left out;
- ``extras.agreement``: Fleiss' kappa over the items every reader answered (Cohen's for two
  readers), the groups and ``cant_tell`` as categories;
- ``extras.paired`` (with ``run``): the paired DeLong test of human against model on the same
  items, the human score of an item being the mean of its readers' scores.

Rows are numbered from 1 after the header line in error messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError, LabelError
from racelens.reader.make import CANT_TELL, read_study
from racelens.shared.results import AuditResult, Condition, DataSummary

__all__ = ["ScoreConfig", "read_answers", "answer_scores", "score_study"]

_REQUIRED = ("item_id", "reader", "guess")
_CANT_TELL_SPELLINGS = {CANT_TELL, "can't tell", "cant tell", "cannot tell"}


@dataclass(frozen=True)
class ScoreConfig:
    """Settings of ``racelens reader score``.

    Parameters
    ----------
    study
        The folder ``racelens reader make`` wrote (``study.json``, ``key.json``).
    answers
        Answer CSVs, one or more (one per reader, or several readers in one).
    run
        An audit run folder scored on the same items: adds the paired DeLong test.
    out
        Run folder for ``result.json`` (``None``: write nothing).
    n_boot, seed
        Patient-bootstrap resamples of the intervals and their seed.
    """

    study: Path
    answers: Sequence[Path]
    run: Path | None = None
    out: Path | None = None
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.answers:
            raise ConfigError("give at least one answer CSV (--answers A.csv [B.csv ...])")
        if self.n_boot < 1:
            raise ConfigError(f"n_boot must be >= 1, got {self.n_boot}")


def _guess(value: str, groups: Sequence[str], where: str) -> str:
    v = value.strip()
    if v.lower() in _CANT_TELL_SPELLINGS:
        return CANT_TELL
    by_lower = {g.lower(): g for g in groups}
    if v.lower() in by_lower:
        return by_lower[v.lower()]
    raise DataError(f"{where}: guess {value!r} is not a group of the study; use one of "
                    f"{[*groups, CANT_TELL]}")


def _number(value: str, column: str, where: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise DataError(f"{where}: {column} {value!r} is not a number") from None
    if not math.isfinite(x) or x < 0:
        raise DataError(f"{where}: {column} {value!r} must be a finite number >= 0")
    return x


def read_answers(paths: Sequence[str | Path], key: dict[str, str], groups: Sequence[str]
                 ) -> tuple[pd.DataFrame, np.ndarray]:
    """Read and check answer CSVs against the study's key.

    Returns
    -------
    (answers, confidences)
        ``answers`` has ``item_id``, ``reader``, ``guess``, ``seconds``, ``file``, ``row``;
        ``confidences`` is ``n x len(groups)``, ``nan`` in rows that gave none.

    Raises
    ------
    DataError
        A missing column, an unknown item id, a duplicate answer (same reader and item, in any
        of the files), an unknown group, or a bad number; the message names the file and row.
    """
    frames: list[pd.DataFrame] = []
    conf_rows: list[list[float]] = []
    seen: dict[tuple[str, str], str] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise DataError(f"{path}: file not found")
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise DataError(f"{path}: cannot read as CSV ({exc})") from exc
        df.columns = [c.strip() for c in df.columns]
        missing = [c for c in _REQUIRED if c not in df.columns]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; an answer file has "
                            f"item_id, reader, guess (optional p_<Group>, seconds)")
        p_cols = [c for c in df.columns if c.startswith("p_")]
        unknown = [c for c in p_cols if c[2:] not in groups]
        if unknown:
            raise DataError(f"{path}: column(s) {unknown} name no group of the study; the groups "
                            f"are {list(groups)}")
        if p_cols and len(p_cols) != len(groups):
            raise DataError(f"{path}: confidence columns for some groups only ({p_cols}); give "
                            f"p_<Group> for every group of {list(groups)} or none")
        rows = []
        for i, rec in enumerate(df.to_dict(orient="records")):
            where = f"{path}, row {i + 1}"
            item, reader = rec["item_id"].strip(), rec["reader"].strip()
            if item not in key:
                raise DataError(f"{where}: unknown item id {rec['item_id']!r}; it is not in this "
                                "study's items.csv")
            if not reader:
                raise DataError(f"{where}: the reader column is empty")
            if (reader, item) in seen:
                raise DataError(f"{where}: duplicate answer: reader {reader!r} already answered "
                                f"{item} ({seen[reader, item]})")
            seen[reader, item] = where
            guess = _guess(rec["guess"], groups, where)
            cells = [rec[f"p_{g}"].strip() for g in groups] if p_cols else []
            if any(cells) and not all(cells):
                raise DataError(f"{where}: confidences given for some groups only; fill every "
                                "p_<Group> of the row or none")
            conf_rows.append([_number(c, f"p_{g}", where) for g, c in zip(groups, cells,
                                                                          strict=True)]
                             if any(cells) else [math.nan] * len(groups))
            sec = rec.get("seconds", "").strip()
            rows.append({"item_id": item, "reader": reader, "guess": guess,
                         "seconds": _number(sec, "seconds", where) if sec else math.nan,
                         "file": str(path), "row": i + 1})
        frames.append(pd.DataFrame(rows, columns=["item_id", "reader", "guess", "seconds",
                                                  "file", "row"]))
    answers = pd.concat(frames, ignore_index=True)
    if answers.empty:
        raise DataError(f"{', '.join(map(str, paths))}: no answers in the file(s)")
    return answers, np.asarray(conf_rows, dtype=float).reshape(len(answers), len(groups))


def answer_scores(guesses: Sequence[str], confidences: np.ndarray, groups: Sequence[str]
                  ) -> np.ndarray:
    """``n x k`` scores: the confidences where given, else the one-hot guess (``cant_tell``:
    ``1/k`` for every group)."""
    k = len(groups)
    out = np.array(confidences, dtype=float, copy=True).reshape(len(guesses), k)
    index = {g: j for j, g in enumerate(groups)}
    for i, g in enumerate(guesses):
        if np.isnan(out[i]).any():
            out[i] = 1.0 / k if g == CANT_TELL else np.eye(k)[index[g]]
    return out


def _reader_rows(answers: pd.DataFrame, scores: np.ndarray, y: np.ndarray, pids: np.ndarray,
                 groups: list[str], n_items: int, cfg: ScoreConfig) -> dict[str, Any]:
    from racelens.shared.metrics import auc_with_ci

    out: dict[str, Any] = {}
    for reader in sorted(answers["reader"].unique()):
        m = (answers["reader"] == reader).to_numpy()
        guess = answers.loc[m, "guess"].to_numpy()
        row: dict[str, Any] = {
            "n_answered": int(m.sum()), "n_unanswered": int(n_items - m.sum()),
            "accuracy": float(np.mean(guess == y[m])),
            "cant_tell_rate": float(np.mean(guess == CANT_TELL)),
            "median_seconds": (float(np.nanmedian(answers.loc[m, "seconds"]))
                               if answers.loc[m, "seconds"].notna().any() else None)}
        try:
            row["auc"] = auc_with_ci(y[m], scores[m], groups, patient_ids=pids[m],
                                     n_boot=cfg.n_boot, seed=cfg.seed).macro.to_dict()
        except LabelError as exc:  # a reader who saw one group only has no AUC
            row["auc"] = {"estimate": None, "ci_low": None, "ci_high": None, "note": str(exc)}
        out[str(reader)] = row
    return out


def _agreement(answers: pd.DataFrame, groups: list[str]) -> dict[str, Any]:
    from racelens.reader.agreement import cohen_kappa, fleiss_kappa, rating_counts

    readers = sorted(answers["reader"].unique())
    if len(readers) < 2:
        return {"method": None, "kappa": None, "n_readers": len(readers), "n_items": 0,
                "note": "one reader: no agreement to measure"}
    wide = answers.pivot(index="item_id", columns="reader", values="guess")[readers].dropna()
    out: dict[str, Any] = {"method": "cohen" if len(readers) == 2 else "fleiss",
                           "n_readers": len(readers), "n_items": int(len(wide)),
                           "categories": [*groups, CANT_TELL]}
    if len(wide) == 0:
        return {**out, "kappa": None, "note": "no item was answered by every reader"}
    fleiss = fleiss_kappa(rating_counts(wide.to_numpy().tolist(), out["categories"]))
    out["fleiss_kappa"] = None if math.isnan(fleiss) else fleiss
    if len(readers) == 2:
        cohen = cohen_kappa(wide[readers[0]].tolist(), wide[readers[1]].tolist())
        out["cohen_kappa"] = None if math.isnan(cohen) else cohen
    out["kappa"] = out["cohen_kappa"] if len(readers) == 2 else out["fleiss_kappa"]
    return out


def _paired(run: Path, condition: Condition, answers: pd.DataFrame, scores: np.ndarray,
            meta: dict[str, Any], key: dict[str, str], groups: list[str],
            modality: str) -> dict[str, Any]:
    from racelens.reader.run import run_scores
    from racelens.shared.metrics.paired import paired_macro_auc_test

    model = run_scores(run, condition)
    if model.modality != modality:
        raise ConfigError(f"{run}: a {model.modality} run cannot pair with a {modality} study")
    items = [it for it in meta["items"] if it["item_id"] in set(answers["item_id"])]
    ids = [it["item_id"] for it in items]
    frame = pd.DataFrame(scores, columns=groups).assign(item_id=answers["item_id"].to_numpy())
    human = frame.groupby("item_id")[groups].mean().loc[ids].to_numpy()
    model_scores = model.for_samples([str(it["sample_id"]) for it in items], groups, str(run))
    y = np.array([key[i] for i in ids], dtype=object)
    test = paired_macro_auc_test(y, human, model_scores, groups,
                                 patient_ids=[str(it["patient_id"]) for it in items])
    return {"test": "paired DeLong (macro one-vs-rest AUC, clustered by patient)",
            "run_condition": condition.label, "n_items": len(ids),
            "human_score": "mean of the readers' scores of each item",
            "human_macro": test["macro_a"], "model_macro": test["macro_b"],
            "difference": test["difference"], "p_value": test["p_value"],
            "per_group": {g: {"human": v["auc_a"], "model": v["auc_b"],
                              "difference": v["difference"], "p_value": v["p_value"]}
                          for g, v in test["per_group"].items()}}


def score_study(config: ScoreConfig) -> AuditResult:
    """Score the answers (see the module doc); write ``result.json`` when ``config.out`` is set.

    Raises
    ------
    DataError
        Bad answer files (naming file and row), or a study folder that is not one.
    LabelError
        When the answered items hold fewer than two groups.
    """
    from racelens.shared.results import evaluate_condition, library_versions
    from racelens.shared.tables import check_writable_dir, fingerprint_table

    cfg = config
    if cfg.out is not None:
        check_writable_dir(cfg.out)
    meta, key = read_study(cfg.study)
    groups = [str(g) for g in meta["groups"]]
    condition = Condition(meta["condition"]["name"], dict(meta["condition"].get("params", {})))
    answers, conf = read_answers(cfg.answers, key, groups)
    scores = answer_scores(answers["guess"].tolist(), conf, groups)
    patient_of = {str(it["item_id"]): str(it["patient_id"]) for it in meta["items"]}
    y = answers["item_id"].map(key).to_numpy(object)
    pids = answers["item_id"].map(patient_of).to_numpy(object)
    n_items = int(meta["n_items"])
    readers = sorted(answers["reader"].unique())
    cond_extras = {"unit": "answer", "n_items": int(answers["item_id"].nunique()),
                   "n_readers": len(readers)}
    result = evaluate_condition(condition, y, scores, groups, patient_ids=pids,
                                n_boot=cfg.n_boot, seed=cfg.seed, extras=cond_extras)
    extras: dict[str, Any] = {
        "classes": groups, "study_id": meta.get("study_id"), "study_modality": meta["modality"],
        "unit": "answer", "n_items": n_items, "n_readers": len(readers),
        "n_unanswered": int(n_items * len(readers) - len(answers)),
        "cant_tell_rate": float(np.mean(answers["guess"].to_numpy() == CANT_TELL)),
        "confidence_rate": float(np.mean(~np.isnan(conf).any(axis=1))),
        "readers": _reader_rows(answers, scores, y, pids, groups, n_items, cfg),
        "agreement": _agreement(answers, groups)}
    if cfg.run is not None:
        extras["paired"] = _paired(Path(cfg.run), condition, answers, scores, meta, key, groups,
                                   meta["modality"])
    counts = pd.Series(y).value_counts()
    data = DataSummary(
        n_samples=len(answers), n_patients=int(pd.Series(pids).nunique()),
        groups={g: int(counts.get(g, 0)) for g in groups},
        fingerprint=fingerprint_table(answers, ["item_id", "reader", "guess"]),
        dataset=str(meta.get("dataset") or "reader study"))
    audit = AuditResult(
        modality="human", data=data, conditions=(result,), seed=cfg.seed,
        config={"study": str(cfg.study), "answers": [str(a) for a in cfg.answers],
                "run": None if cfg.run is None else str(cfg.run), "n_boot": cfg.n_boot},
        extras=extras, versions=library_versions())
    if cfg.out is not None:
        audit.write(cfg.out)
    return audit
