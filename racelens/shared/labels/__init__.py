"""Race labels: the vocabulary of each source, named collapses, and the one label policy.

- :mod:`~racelens.shared.labels.vocabulary`: raw source strings -> canonical groups
  (:func:`harmonize`), read from the tables in ``racelens/shared/data``;
- :mod:`~racelens.shared.labels.collapse`: canonical groups -> the groups an audit compares
  (:data:`COLLAPSES`, :func:`apply_collapse`);
- :mod:`~racelens.shared.labels.policy`: vocabulary -> per-patient consistency -> collapse ->
  accounting (:func:`label_cohort`, :func:`race_per_patient`), used by every source.

Examples
--------
>>> h = harmonize(["BLACK/AFRICAN AMERICAN", "WHITE - RUSSIAN", "ASIAN - CHINESE"], source="mimic-iv")
>>> list(h["race"])
['Black', 'White', 'Asian']
>>> groups, excluded = apply_collapse(harmonize(["WHITE", "UNKNOWN"]), "abw")
>>> excluded
{'UNKNOWN': 1}
"""

from racelens.shared.labels.collapse import COLLAPSES, Collapse, apply_collapse, get_collapse
from racelens.shared.labels.policy import (
    INCONSISTENT_KEY,
    MISSING_PATIENT_KEY,
    NO_RACE_RECORD,
    Consistency,
    PatientRaces,
    consistent_patients,
    drop_missing_patients,
    inconsistent_patients,
    inconsistent_records,
    label_by_patient,
    label_cohort,
    race_per_patient,
)
from racelens.shared.labels.vocabulary import (
    AIAN,
    CANONICAL_GROUPS,
    MISSING_KEY,
    NHPI,
    RARE_UNKNOWN_KEY,
    RARE_VALUE_FLOOR,
    SOURCES,
    LabelSource,
    harmonize,
    vocabulary,
)

__all__ = [
    "AIAN",
    "NHPI",
    "CANONICAL_GROUPS",
    "SOURCES",
    "LabelSource",
    "Collapse",
    "COLLAPSES",
    "MISSING_KEY",
    "RARE_VALUE_FLOOR",
    "RARE_UNKNOWN_KEY",
    "INCONSISTENT_KEY",
    "NO_RACE_RECORD",
    "MISSING_PATIENT_KEY",
    "Consistency",
    "vocabulary",
    "harmonize",
    "get_collapse",
    "apply_collapse",
    "inconsistent_patients",
    "inconsistent_records",
    "consistent_patients",
    "PatientRaces",
    "drop_missing_patients",
    "race_per_patient",
    "label_by_patient",
    "label_cohort",
]
