"""Synthetic patients with known, weak links between race and covariates.

The imaging and text generators build on :func:`synthetic_patients`: one row per sample (a
study), 1–4 samples per patient, the race written as the chosen source writes it, so every
pipeline runs through :func:`racelens.shared.labels.harmonize`.

How covariates depend on race (documented so a covariate baseline has a known answer; a
logistic regression on age, sex, BMI and the disease columns reaches a macro one-vs-rest AUC of
about 0.60, near Gichoya et al.'s confounder AUCs of 0.55–0.61):

========== ============ ============= ========= ==========================================
group      age (mean)   female (p)    BMI mean  disease log-odds shift
========== ============ ============= ========= ==========================================
Asian      61           0.48          26.0      Cardiomegaly -0.2, Pleural Effusion +0.2
Black      58.5         0.55          29.0      Cardiomegaly +0.4, Edema +0.2
White      62           0.47          28.0      none (reference)
other      60           0.50          27.5      none
========== ============ ============= ========= ==========================================

Age has SD 15 (clipped to 18–95), BMI SD 5.5 (clipped to 15–60); age, sex and BMI are per
patient. Diseases are drawn per sample: ``logit p = base + age and BMI slopes + group shift``;
``No Finding`` is 1 when no other finding is present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from racelens.errors import ConfigError
from racelens.shared.labels import SOURCES, harmonize

__all__ = ["DISEASES", "FINDINGS", "GROUP_EFFECTS", "RAW_STRINGS", "plant_finding", "synthetic_patients"]

FINDINGS: tuple[str, ...] = ("Cardiomegaly", "Pleural Effusion", "Edema", "Atelectasis")
DISEASES: tuple[str, ...] = ("No Finding", *FINDINGS)

# group -> (age mean, P(female), BMI mean, {finding: log-odds shift})
GROUP_EFFECTS: dict[str, tuple[float, float, float, dict[str, float]]] = {
    "Asian": (61.0, 0.48, 26.0, {"Cardiomegaly": -0.2, "Pleural Effusion": 0.2}),
    "Black": (58.5, 0.55, 29.0, {"Cardiomegaly": 0.4, "Edema": 0.2}),
    "White": (62.0, 0.47, 28.0, {}),
}
_OTHER_EFFECTS = (60.0, 0.50, 27.5, {})
# finding -> (base log-odds at age 60 / BMI 28, per-year age slope, per-unit BMI slope)
_DISEASE_MODEL: dict[str, tuple[float, float, float]] = {
    "Cardiomegaly": (-1.9, 0.03, 0.03),
    "Pleural Effusion": (-1.7, 0.02, 0.0),
    "Edema": (-2.2, 0.02, 0.04),
    "Atelectasis": (-1.8, 0.01, 0.02),
}

# source -> group -> raw strings, first one the most common (60 %), the rest share the remainder.
RAW_STRINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "mimic-iv": {
        "Asian": ("ASIAN", "ASIAN - CHINESE", "ASIAN - ASIAN INDIAN", "ASIAN - SOUTH EAST ASIAN",
                  "ASIAN - KOREAN"),
        "Black": ("BLACK/AFRICAN AMERICAN", "BLACK/CAPE VERDEAN", "BLACK/CARIBBEAN ISLAND",
                  "BLACK/AFRICAN"),
        "White": ("WHITE", "WHITE - OTHER EUROPEAN", "WHITE - RUSSIAN", "WHITE - EASTERN EUROPEAN",
                  "WHITE - BRAZILIAN", "PORTUGUESE"),
        "other": ("UNKNOWN", "HISPANIC/LATINO - PUERTO RICAN", "OTHER", "HISPANIC OR LATINO",
                  "UNABLE TO OBTAIN", "PATIENT DECLINED TO ANSWER", "AMERICAN INDIAN/ALASKA NATIVE"),
    },
    "mimic-iii": {
        "Asian": ("ASIAN", "ASIAN - CHINESE", "ASIAN - VIETNAMESE", "ASIAN - ASIAN INDIAN"),
        "Black": ("BLACK/AFRICAN AMERICAN", "BLACK/HAITIAN", "BLACK/CAPE VERDEAN", "BLACK/AFRICAN"),
        "White": ("WHITE", "WHITE - RUSSIAN", "WHITE - OTHER EUROPEAN", "WHITE - BRAZILIAN"),
        "other": ("UNKNOWN/NOT SPECIFIED", "HISPANIC OR LATINO", "OTHER", "UNABLE TO OBTAIN",
                  "PATIENT DECLINED TO ANSWER", "MULTI RACE ETHNICITY"),
    },
    "mimic-iv-v1": {
        "Asian": ("ASIAN",), "Black": ("BLACK/AFRICAN AMERICAN",), "White": ("WHITE",),
        "other": ("UNKNOWN", "HISPANIC/LATINO", "OTHER", "UNABLE TO OBTAIN"),
    },
    "chexpert": {
        "Asian": ("Asian", "Asian, non-Hispanic"),
        "Black": ("Black or African American", "Black, non-Hispanic"),
        "White": ("White", "White, non-Hispanic"),
        "other": ("Unknown", "Other", "White, Hispanic", "Patient Refused",
                  "Race and Ethnicity Unknown"),
    },
    "free-text": {
        "Asian": ("Asian", "Chinese", "Asian American"),
        "Black": ("African American", "Black", "African-American"),
        "White": ("White", "Caucasian"),
        "other": ("Hispanic", "Unknown", "Declined", "Other"),
    },
    "embed": {  # EMBED open data clinical RACE_DESC
        "Asian": ("Asian",), "Black": ("African American  or Black",),
        "White": ("Caucasian or White",),
        "other": ("Unknown, Unavailable or Unreported", "Multiple",
                  "American Indian or Alaskan Native"),
    },
    "nlst": {  # the participant table's numeric race codes
        "Asian": ("3",), "Black": ("2",), "White": ("1",),
        "other": ("6", "7", "95", "99", "4", "5"),
    },
}


def _pick_raw(rng: np.random.Generator, options: Sequence[str], n: int) -> np.ndarray:
    if len(options) == 1:
        return np.full(n, options[0], dtype=object)
    p = np.full(len(options), 0.4 / (len(options) - 1))
    p[0] = 0.6
    return rng.choice(np.array(options, dtype=object), size=n, p=p)


def synthetic_patients(
    n_patients: int,
    *,
    seed: int = 0,
    source: str = "mimic-iv",
    groups: Sequence[str] = ("Asian", "Black", "White"),
    group_probs: Sequence[float] | None = (0.3, 0.3, 0.4),
    other_fraction: float = 0.05,
    samples_per_patient: tuple[int, int] = (1, 4),
) -> pd.DataFrame:
    """Generate synthetic patients, one row per sample.

    Parameters
    ----------
    n_patients
        Number of patients.
    seed
        Seed of the generator (``numpy.random.default_rng``); same seed, same table.
    source
        Style of the raw race strings: a source of :data:`racelens.shared.labels.SOURCES`.
    groups
        Groups among ``Asian``, ``Black``, ``White`` to draw (the groups with known effects).
    group_probs
        Probabilities of ``groups`` (``None``: equal).
    other_fraction
        Fraction of patients whose raw race falls outside ``groups`` (Hispanic, unknown,
        declined, ...), so the label rules have rows to exclude and count.
    samples_per_patient
        Inclusive range of samples (studies) per patient.

    Returns
    -------
    pandas.DataFrame
        Columns ``sample_id, patient_id, study_id, race_raw, race, hispanic, age, sex, bmi`` and
        one 0/1 column per name in :data:`DISEASES`.

    Examples
    --------
    >>> df = synthetic_patients(50, seed=1)
    >>> sorted(df["race"].unique())[:3]
    ['Asian', 'Black', 'White']
    """
    if n_patients < 1:
        raise ConfigError(f"n_patients must be >= 1, got {n_patients}")
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; use one of: {', '.join(SOURCES)}")
    unknown = sorted(set(groups) - set(GROUP_EFFECTS))
    if unknown or not groups:
        raise ConfigError(f"groups must be among {sorted(GROUP_EFFECTS)}, got {list(groups)}")
    if not 0.0 <= other_fraction < 1.0:
        raise ConfigError(f"other_fraction must be in [0, 1), got {other_fraction}")
    lo, hi = samples_per_patient
    if not 1 <= lo <= hi:
        raise ConfigError(f"samples_per_patient must be (lo, hi) with 1 <= lo <= hi, got {(lo, hi)}")
    p = np.full(len(groups), 1.0 / len(groups)) if group_probs is None else np.asarray(group_probs, float)
    if p.shape != (len(groups),) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ConfigError(f"group_probs must be {len(groups)} probabilities summing to 1")

    rng = np.random.default_rng(seed)
    names = np.array([*groups, "other"], dtype=object)
    probs = np.append(p * (1.0 - other_fraction), other_fraction)
    group = rng.choice(names, size=n_patients, p=probs)
    effects = [GROUP_EFFECTS.get(g, _OTHER_EFFECTS) for g in group]
    age = np.clip(rng.normal([e[0] for e in effects], 15.0), 18, 95).round().astype(int)
    female = rng.random(n_patients) < np.array([e[1] for e in effects])
    bmi = np.clip(rng.normal([e[2] for e in effects], 5.5), 15, 60).round(1)
    raw = np.empty(n_patients, dtype=object)
    for g in names:
        mask = group == g
        raw[mask] = _pick_raw(rng, RAW_STRINGS[source][g], int(mask.sum()))

    reps = rng.integers(lo, hi + 1, size=n_patients)
    idx = np.repeat(np.arange(n_patients), reps)
    visit = np.concatenate([np.arange(r) for r in reps])
    pid = np.array([f"P{i:06d}" for i in range(n_patients)], dtype=object)
    df = pd.DataFrame({
        "sample_id": [f"{pid[i]}_{v}" for i, v in zip(idx, visit, strict=True)],
        "patient_id": pid[idx],
        "study_id": [f"S{i:06d}{v:02d}" for i, v in zip(idx, visit, strict=True)],
        "race_raw": raw[idx],
        "age": age[idx] + visit,  # later studies a year apart
        "sex": np.where(female[idx], "F", "M"),
        "bmi": bmi[idx],
    })
    any_finding = np.zeros(len(df), dtype=bool)
    for finding, (base, a_slope, b_slope) in _DISEASE_MODEL.items():
        shift = np.array([effects[i][3].get(finding, 0.0) for i in idx])
        logit = base + a_slope * (df["age"].to_numpy() - 60) + b_slope * (df["bmi"].to_numpy() - 28) + shift
        df[finding] = (rng.random(len(df)) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
        any_finding |= df[finding].to_numpy() == 1
    df.insert(len(df.columns) - len(FINDINGS), "No Finding", (~any_finding).astype(int))
    h = harmonize(df["race_raw"], source=source)
    df.insert(4, "race", h["race"].to_numpy())
    df.insert(5, "hispanic", h["hispanic"].to_numpy())
    return df


def plant_finding(
    patients: pd.DataFrame,
    *,
    prevalence: Mapping[str, float],
    column: str = "Finding",
    default: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Add a 0/1 finding per sample whose prevalence depends on the group, and nothing else.

    The known answer of the shortcut test (Brown et al. 2023): with the finding more prevalent in
    one group, a model that reads the group can use it as a proxy for the finding; equal
    prevalences are the negative control.

    Parameters
    ----------
    patients
        A table with a canonical ``race`` column (e.g. :func:`synthetic_patients`).
    prevalence
        Group -> P(finding) per sample.
    column
        Name of the new column.
    default
        P(finding) for groups not in ``prevalence`` (``None``: the mean of ``prevalence``).
    seed
        Seed of the draw (``numpy.random.default_rng([seed, 7])``).

    Returns
    -------
    pandas.DataFrame
        A copy with ``column`` added (int 0/1).
    """
    if "race" not in patients:
        raise ConfigError("plant_finding needs a canonical 'race' column")
    if not prevalence or any(not 0.0 <= float(p) <= 1.0 for p in prevalence.values()):
        raise ConfigError(f"prevalence must map groups to probabilities in [0, 1], got {dict(prevalence)}")
    base = float(np.mean(list(prevalence.values()))) if default is None else float(default)
    p = patients["race"].map(lambda g: float(prevalence.get(g, base)) if isinstance(g, str) else base)
    rng = np.random.default_rng([seed, 7])
    return patients.assign(**{column: (rng.random(len(patients)) < p.to_numpy(float)).astype(int)})
