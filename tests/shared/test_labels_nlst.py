"""NLST participant race and ethnic codes: every code, as numbers, strings and gapped floats."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from racelens.errors import UnmatchedLabelWarning
from racelens.shared.labels import AIAN, NHPI, SOURCES, apply_collapse, harmonize, vocabulary

RACE_CODES = [
    (1, "White"), (2, "Black"), (3, "Asian"), (4, AIAN), (5, NHPI), (6, "Other"),
    (7, "Unknown"), (95, "Unknown"), (96, "Unknown"), (98, "Unknown"), (99, "Unknown"),
]
ETHNIC_CODES = [(1, True), (2, False), (7, None), (95, None), (96, None), (98, None), (99, None)]


@pytest.mark.parametrize("code, race", RACE_CODES)
@pytest.mark.parametrize("spell", [int, str, float])
def test_every_race_code(code: int, race: str, spell: type) -> None:
    out = harmonize([spell(code)], source="nlst")
    assert list(out["race"]) == [race]
    assert list(out["race_raw"]) == [str(code)]


def test_the_table_is_exactly_the_codes() -> None:
    vocab = vocabulary("nlst")
    assert list(vocab["raw"]) == [str(c) for c, _ in RACE_CODES]
    assert SOURCES["nlst"] == "nlst.csv"


@pytest.mark.parametrize("code, hispanic", ETHNIC_CODES)
def test_every_ethnic_code_sets_the_hispanic_flag(code: int, hispanic: bool | None) -> None:
    out = harmonize([1], source="nlst", ethnicity=[code])
    flag = out["hispanic"].iloc[0]
    assert (None if pd.isna(flag) else bool(flag)) is hispanic


def test_a_column_with_gaps_reads_as_floats() -> None:
    table = pd.DataFrame({"race": [1, 2, None, 3], "ethnic": [2, 1, 2, None]})
    assert table["race"].dtype == float
    out = harmonize(table["race"], source="nlst", ethnicity=table["ethnic"])
    assert list(out["race"]) == ["White", "Black", "Unknown", "Asian"]
    groups, excluded = apply_collapse(out, "abw")
    # Gichoya's non-Hispanic rule: the Black participant with ethnic=1 is excluded
    assert list(groups.dropna()) == ["White", "Asian"]
    assert sum(excluded.values()) == 2


def test_codes_are_not_part_of_auto() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmatchedLabelWarning)
        assert list(harmonize(["1"], source="auto")["race"]) == ["Other"]
    assert "1" not in set(vocabulary("auto")["raw"])


def test_unknown_code_warns() -> None:
    with pytest.warns(UnmatchedLabelWarning, match="matched no 'nlst' vocabulary"):
        assert list(harmonize([8] * 5, source="nlst")["race"]) == ["Other"] * 5
