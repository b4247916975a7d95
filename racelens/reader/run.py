"""The model side of a reader study: an audit run's test-split scores for the study's condition.

Both audits write ``predictions.parquet`` in one schema
(:mod:`racelens.shared.predictions`: ``sample_id``, ``patient_id``, ``condition``, ``split``,
``y_true``, ``p_<Group>``; older text runs are read too). :func:`run_scores` takes one
condition's test rows, so a study can sample the run's test items and score humans against the
model on exactly those items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from racelens.errors import DataError
from racelens.shared.predictions import SCORE_PREFIX, read_predictions, score_columns
from racelens.shared.results import AuditResult, Condition

__all__ = ["RunScores", "run_scores"]

@dataclass(frozen=True)
class RunScores:
    """A run's test-split scores under one condition.

    Attributes
    ----------
    sample_ids
        Test sample ids (strings), one per row of ``scores``.
    scores
        ``n x len(classes)`` model scores.
    classes
        Group names, in the column order of ``scores``.
    modality
        The run's modality (``imaging`` or ``text``).
    condition
        The condition's label (``original``, ``redact(level=explicit)``).
    """

    sample_ids: np.ndarray
    scores: np.ndarray
    classes: tuple[str, ...]
    modality: str
    condition: str

    def for_samples(self, sample_ids: list[str], classes: list[str], where: str) -> np.ndarray:
        """Scores of ``sample_ids`` with columns in the order of ``classes``.

        Raises
        ------
        DataError
            When a sample is not among the run's test samples or a group has no score column.
        """
        index = pd.Index(self.sample_ids)
        rows = index.get_indexer(sample_ids)
        if (rows < 0).any():
            raise DataError(f"{where}: {int((rows < 0).sum())} of {len(sample_ids)} items are not "
                            f"in the run's test split under {self.condition}; make the study "
                            "with --run from this run (and the same --sample-col)")
        missing = [c for c in classes if c not in self.classes]
        if missing:
            raise DataError(f"{where}: the run has no score for group(s) {missing}; its groups are "
                            f"{list(self.classes)}")
        cols = [self.classes.index(c) for c in classes]
        return self.scores[np.ix_(rows, cols)]


def run_scores(run: str | Path, condition: Condition) -> RunScores:
    """Read an audit run folder's test scores under ``condition``.

    Raises
    ------
    DataError
        When the folder has no ``predictions.parquet``, the run did not measure ``condition``,
        or the table has no score columns.
    """
    run = Path(run)
    result = AuditResult.read(run)
    path = run / "predictions.parquet"
    if not path.exists():
        raise DataError(f"{path}: not found; --run needs an audit run folder "
                        "(racelens imaging audit / racelens text audit)")
    table = read_predictions(path)
    rows = table[table["condition"].astype(str) == condition.label]
    if "split" in rows:  # older text runs wrote test rows only, without the column
        rows = rows[rows["split"].astype(str) == "test"]
    if rows.empty:
        found = sorted(table["condition"].astype(str).unique())
        raise DataError(f"{path}: no test predictions under {condition.label}; the run measured "
                        f"{found}")
    cols = score_columns(rows)
    ids = rows["sample_id"].astype(str).to_numpy(object)
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: sample ids repeat under {condition.label}")
    return RunScores(ids, rows[cols].to_numpy(float), tuple(c[len(SCORE_PREFIX):] for c in cols),
                     result.modality, condition.label)
