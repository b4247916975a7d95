"""The text audit: race predictability from notes at each redaction level, and after proxies go.

:func:`run_text_audit` loads a note table, splits it once by patient (the same split for every
condition, so conditions are paired), and for each level fits the chosen model on the training
notes, tunes it on validation notes and scores the test notes:

- level ``none`` is the condition ``original``;
- each other level ``L`` is ``redact`` with ``{"level": L}`` (:class:`RaceRedactor`, each
  mention replaced by ``[RACE]``) and, with ``"delete"`` among ``replacements``, also ``redact``
  with ``{"level": L, "replacement": "delete"}`` (each mention deleted): where groups' mention
  rates differ, how often a note holds the token is itself a race signal, which deletion removes;
- with ``strip_proxies=K``, starting from the most thorough level, the n-grams most predictive
  of race are found by TF-IDF + logistic regression **on the training notes only** (finding
  them on all notes would let test notes choose what is removed, and the measured drop would be
  optimistic), deleted from every note, and the model re-fitted and re-scored: conditions
  ``strip_proxies`` with ``{"level": L, "k": n}`` for n proxies removed so far. Every top
  n-gram is removed, but ``result.json`` lists only those found in the notes of at least
  ``min_patients`` distinct training patients (a k-anonymity-style floor: a name or MRN repeated
  in one patient's notes is stripped like any proxy, and only counted in ``n_unlisted``).

The input may be ``text redact --keep-original COL`` output (``original_col``): the level it was
redacted at is then measured on the file's own redaction, not redacted again in memory.

Every condition is scored by the one leakage model (:func:`racelens.text.check.leakage.fit_leakage`
on :func:`~racelens.text.check.leakage.leakage_split`), the model and split ``text check`` uses:
a level's AUC here equals the redaction check's leakage AUC for it on the same table, and the
proxies are ranked by the same :func:`~racelens.text.check.leakage.rank_proxies`.

Outputs: ``RUN/result.json`` (modality ``text``), ``RUN/predictions.parquet`` (test scores per
condition, the schema of :mod:`racelens.shared.predictions`) and, in ``extras``, the redaction check of each level and the proxies removed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, LabelError
from racelens.shared.predictions import prediction_frame
from racelens.shared.results import AuditResult, Condition, ConditionResult

__all__ = ["TextAuditConfig", "run_text_audit", "strip_ngrams", "LEVELS", "REPLACEMENTS"]

log = logging.getLogger(__name__)

LEVELS = ("none", "explicit", "extended")
# how a redaction condition treats each mention -> the RaceRedactor replacement
REPLACEMENTS = {"token": "[RACE]", "delete": ""}


@dataclass(frozen=True)
class TextAuditConfig:
    """Everything one text audit needs.

    Parameters
    ----------
    input
        A note table file (CSV, parquet, JSON lines) or a :class:`pandas.DataFrame`.
    text_col, label_col, patient_col, sample_col
        Column names (``sample_col``: a unique note id, else the row number).
    out
        Run directory for ``result.json`` and ``predictions.parquet`` (``None``: write nothing).
    model
        ``tfidf``, ``embeddings:DIR`` or ``transformer:DIR``.
    levels
        Redaction levels to measure, among ``none``, ``explicit``, ``extended``.
    replacements
        How each redaction level treats a mention, among ``token`` (replaced by ``[RACE]``, the
        condition ``redact(level=L)``) and ``delete`` (deleted, the condition
        ``redact(level=L,replacement=delete)``); every level other than ``none`` is measured
        with each. Proxy stripping starts from the token redaction.
    strip_proxies
        Remove up to this many proxies, re-measuring every ``proxy_step`` removals
        (``proxy_step=0``: about ten measurements).
    min_patients
        A stripped proxy is listed in ``result.json`` only if it occurs in the notes of at least
        this many distinct training patients (the others are counted, not named).
    collapse, race_source, consistency
        Label rules (the one policy, :func:`racelens.shared.labels.label_cohort`).
    seed, n_boot
        Seed of the split, models and bootstrap; bootstrap resamples.
    model_params
        Constructor arguments of the leakage model
        (:func:`racelens.text.check.leakage.fit_leakage`, the one ``text check`` uses too).
    original_col, redacted_level, redacted_replacement
        An input already redacted by ``text redact --keep-original COL``: ``text_col`` holds
        the redacted notes and ``original_col`` the originals. The condition
        ``redacted_level`` with ``redacted_replacement`` (default ``redact(level=explicit)``,
        the ``[RACE]`` token; ``delete`` for ``text redact --delete``) is then measured on the
        file's own redaction instead of redacting again in memory; level ``none`` uses
        ``original_col``, and any other level or replacement is redacted from it.
    """

    input: Any
    text_col: str = "text"
    label_col: str = "race"
    patient_col: str = "patient_id"
    sample_col: str | None = None
    out: str | Path | None = None
    model: str = "tfidf"
    levels: Sequence[str] = LEVELS
    replacements: Sequence[str] = ("token",)
    strip_proxies: int = 0
    proxy_step: int = 0
    min_patients: int = 10
    collapse: str = "abw"
    race_source: str = "auto"
    consistency: str = "drop"
    seed: int = 0
    n_boot: int = 1000
    model_params: dict[str, Any] = field(default_factory=dict)
    original_col: str | None = None
    redacted_level: str = "explicit"
    redacted_replacement: str = "token"

    def __post_init__(self) -> None:
        bad = [lv for lv in self.levels if lv not in LEVELS]
        if bad or not self.levels:
            raise ConfigError(f"levels must be among {LEVELS}, got {list(self.levels)}")
        bad = [r for r in self.replacements if r not in REPLACEMENTS]
        if bad or not self.replacements or isinstance(self.replacements, str):
            raise ConfigError(f"replacements must be among {tuple(REPLACEMENTS)}, got "
                              f"{self.replacements!r}")
        if self.strip_proxies < 0 or self.proxy_step < 0:
            raise ConfigError("strip_proxies and proxy_step must be >= 0")
        if self.min_patients < 1:
            raise ConfigError(f"min_patients must be >= 1, got {self.min_patients}")
        if self.redacted_level not in LEVELS[1:]:
            raise ConfigError(f"redacted_level must be among {LEVELS[1:]}, got "
                              f"{self.redacted_level!r}")
        if self.redacted_replacement not in REPLACEMENTS:
            raise ConfigError(f"redacted_replacement must be among {tuple(REPLACEMENTS)}, got "
                              f"{self.redacted_replacement!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input"] = "<DataFrame>" if isinstance(self.input, pd.DataFrame) else str(self.input)
        d["out"] = None if self.out is None else str(self.out)
        d["levels"] = list(self.levels)
        d["replacements"] = list(self.replacements)
        return d


def _ngram_regex(ngram: str) -> re.Pattern[str]:
    # tokens as the TF-IDF tokenizer sees them; one-letter words between them are skipped
    gap = r"(?:\W|(?<![\w\]])\w(?![\w\[]))+"
    body = gap.join(re.escape(t) for t in ngram.split())
    return re.compile(rf"(?<![\w\[]){body}(?![\w\]])", re.IGNORECASE)


def strip_ngrams(texts: Sequence[str], ngrams: Sequence[str]) -> list[str]:
    """Delete every occurrence of ``ngrams`` (case-insensitive, whole tokens) from ``texts``."""
    rxs = [_ngram_regex(g) for g in ngrams]
    out = []
    for t in texts:
        for rx in rxs:
            t = rx.sub(" ", t)
        out.append(t)
    return out


def _condition(level: str, replacement: str = "token") -> Condition:
    if level == "none":
        return Condition("original")
    # the token condition keeps its name of before deletion existed: runs stay comparable
    return Condition("redact", {"level": level} if replacement == "token"
                     else {"level": level, "replacement": replacement})


def _strip_candidates(model: Any, texts: list[str], y: np.ndarray, pids: np.ndarray,
                      split: np.ndarray, n: int, exclude: set[str]) -> list[tuple[str, int]]:
    """The ``n`` n-grams with the largest weight for any group in the leakage model fitted on
    ``texts`` (training notes only), each with its number of distinct training patients."""
    from racelens.text.check.leakage import rank_proxies

    # every n-gram is a candidate (min_patients=1): a name repeated in one patient's notes is
    # stripped like any proxy, and only left out of the listing
    ranked = sorted(rank_proxies(model, texts, y, pids, split, top_k=50, min_patients=1),
                    key=lambda p: (p.weight, p.ngram), reverse=True)
    out: dict[str, int] = {}
    for p in ranked:
        if p.ngram not in exclude and p.ngram not in out:
            out[p.ngram] = p.n_patients
        if len(out) == n:
            break
    return list(out.items())


def _texts_of(cfg: TextAuditConfig, t: pd.DataFrame) -> tuple[list[str], list[str] | None]:
    """The original notes, and the input's own redaction when it is ``text redact`` output."""
    if cfg.original_col is None:
        return t["text"].tolist(), None
    where = "the table" if isinstance(cfg.input, pd.DataFrame) else str(cfg.input)
    if cfg.original_col not in t.columns or cfg.original_col in ("text", "race", "race_raw"):
        raise ConfigError(f"{where}: no column {cfg.original_col!r} of original notes besides "
                          f"the redacted {cfg.text_col!r}; name the column `text redact "
                          "--keep-original` wrote")
    original = [v if isinstance(v, str) else "" for v in t[cfg.original_col]]
    return original, t["text"].tolist()


def _require_two_groups(cfg: TextAuditConfig, cohort: Any) -> None:
    """A one-line error naming the input and the label column when fewer than two groups remain."""
    groups = sorted(cohort.table["race"].dropna().astype(str).unique())
    if len(groups) >= 2:
        return
    where = "the table" if isinstance(cfg.input, pd.DataFrame) else str(cfg.input)
    n_excluded = sum(cohort.excluded.values())
    found = f"one group only ({groups[0]})" if groups else "no group"
    raise LabelError(f"{where}: column {cfg.label_col!r} leaves {found} after the label rules "
                     f"(collapse {cfg.collapse!r}; {n_excluded:,} rows excluded); an audit needs "
                     "at least two groups: check --label-col, --race-source and --collapse")


def run_text_audit(config: TextAuditConfig) -> AuditResult:
    """Measure race predictability from notes at each redaction level (see the module doc).

    Returns
    -------
    AuditResult
        Modality ``text``; ``data`` accounts for every input row.
    """
    from racelens.shared.cohort import ordered_groups
    from racelens.shared.results import library_versions
    from racelens.shared.tables import atomic_write_parquet, check_writable_dir
    from racelens.text.check.leakage import fit_leakage, fit_model, leakage_split
    from racelens.text.check.report import check_redaction
    from racelens.text.redact.redactor import RaceRedactor
    from racelens.text.sources import from_table

    cfg = config
    if cfg.out is not None:  # fail on an unusable run folder before the work, not after it
        check_writable_dir(cfg.out)
    cohort = from_table(cfg.input, text_col=cfg.text_col, race_col=cfg.label_col,
                        patient_col=cfg.patient_col, sample_col=cfg.sample_col,
                        race_source=cfg.race_source, collapse=cfg.collapse,
                        consistency=cfg.consistency)  # type: ignore[arg-type]
    _require_two_groups(cfg, cohort)
    t = cohort.table
    split = leakage_split(t["patient_id"], t["race"].astype(str), seed=cfg.seed,
                          splits=t["split"] if "split" in t.columns else None)
    y = t["race"].astype(str).to_numpy(object)
    pids = t["patient_id"].to_numpy(object)
    classes = ordered_groups(y, cohort.groups_order)
    original, given = _texts_of(cfg, t)
    texts: dict[str, list[str]] = {"none": original}
    fits: dict[str, Any] = {}  # level -> the fitted token-redaction model
    results: list[ConditionResult] = []
    preds: list[pd.DataFrame] = []
    checks: dict[str, Any] = {}
    te = np.flatnonzero(split == "test")

    def record(cond: Condition, level_texts: list[str], extras: dict[str, Any] | None = None) -> Any:
        fit = fit_leakage(level_texts, y, pids, split, classes, cond, model=cfg.model,
                          model_params=cfg.model_params, seed=cfg.seed, n_boot=cfg.n_boot,
                          extras=extras)
        results.append(fit.result)
        preds.append(prediction_frame(t["sample_id"].to_numpy()[te], cond, y[te], fit.test_scores,
                                      classes, patient_ids=pids[te]))
        return fit.model

    def redact(level: str, rep: str = "token") -> list[str]:
        if given is not None and (level, rep) == (cfg.redacted_level, cfg.redacted_replacement):
            return given  # the input's own redaction, not redone in memory
        redactor = RaceRedactor(level=level, replacement=REPLACEMENTS[rep])  # type: ignore[arg-type]
        return [r.text for r in redactor.redact_batch(original)]

    for level in cfg.levels:
        if level == "none":
            record(_condition(level), original)
            continue
        for rep in cfg.replacements:
            redacted = redact(level, rep)
            check = check_redaction(redacted, original_texts=original, labels=y,
                                    level=level, leakage=False).to_dict()  # type: ignore[arg-type]
            if rep == "token":  # the result-level check per level, as before deletion existed
                texts[level], checks[level] = redacted, check
                fits[level] = record(_condition(level), redacted)
            else:  # the deletion condition carries its own check
                record(_condition(level, rep), redacted, {"check": check})

    removed: list[str] = []
    listed: list[str] = []  # the removed n-grams seen for at least min_patients patients
    if cfg.strip_proxies:
        level = next((lv for lv in ("extended", "explicit") if lv in cfg.levels), "explicit")
        if level not in texts:
            texts[level] = redact(level)
        step = cfg.proxy_step or max(1, math.ceil(cfg.strip_proxies / 10))
        current = texts[level]
        # proxies are the linear model's weights: the fit just scored when it is that model
        ranker = fits.get(level) if cfg.model == "tfidf" else None
        while len(removed) < cfg.strip_proxies:
            if ranker is None:
                ranker = fit_model(current, y, split, seed=cfg.seed,
                                   model_params=cfg.model_params if cfg.model == "tfidf" else None)
            n = min(step, cfg.strip_proxies - len(removed))
            found = _strip_candidates(ranker, current, y, pids, split, n, set(removed))
            if not found:
                break
            new = [g for g, _ in found]
            removed.extend(new)
            listed.extend(g for g, k in found if k >= cfg.min_patients)
            current = strip_ngrams(current, new)
            model = record(Condition("strip_proxies", {"level": level, "k": len(removed)}), current)
            ranker = model if cfg.model == "tfidf" else None

    result = AuditResult(
        modality="text", data=cohort.data_summary(), conditions=tuple(results), config=cfg.to_dict(),
        seed=cfg.seed, versions=library_versions(),
        extras={"model": cfg.model, "classes": classes,
                "split_sizes": {s: int((split == s).sum()) for s in ("train", "val", "test")},
                "check": checks,
                "strip_proxies": {"removed": listed, "n_removed": len(removed),
                                  "n_unlisted": len(removed) - len(listed),
                                  "min_patients": cfg.min_patients} if cfg.strip_proxies else {}})
    if cfg.out is not None:
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_parquet(out / "predictions.parquet", pd.concat(preds, ignore_index=True))
        result.write(out)
    return result
