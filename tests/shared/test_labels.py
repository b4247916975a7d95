"""Race vocabulary: every known raw value per source, collapses, consistency, label_cohort."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from racelens.errors import ConfigError, LabelError, UnmatchedLabelWarning
from racelens.shared.labels import (
    AIAN,
    CANONICAL_GROUPS,
    COLLAPSES,
    INCONSISTENT_KEY,
    NHPI,
    RARE_UNKNOWN_KEY,
    SOURCES,
    apply_collapse,
    consistent_patients,
    harmonize,
    inconsistent_patients,
    label_cohort,
    vocabulary,
)

H = "Hispanic"
MIMIC_III = {
    "AMERICAN INDIAN/ALASKA NATIVE": AIAN,
    "AMERICAN INDIAN/ALASKA NATIVE FEDERALLY RECOGNIZED TRIBE": AIAN,
    "ASIAN": "Asian", "ASIAN - ASIAN INDIAN": "Asian", "ASIAN - CAMBODIAN": "Asian",
    "ASIAN - CHINESE": "Asian", "ASIAN - FILIPINO": "Asian", "ASIAN - JAPANESE": "Asian",
    "ASIAN - KOREAN": "Asian", "ASIAN - OTHER": "Asian", "ASIAN - THAI": "Asian",
    "ASIAN - VIETNAMESE": "Asian",
    "BLACK/AFRICAN": "Black", "BLACK/AFRICAN AMERICAN": "Black", "BLACK/CAPE VERDEAN": "Black",
    "BLACK/HAITIAN": "Black", "CARIBBEAN ISLAND": "Black",
    "HISPANIC OR LATINO": H, "HISPANIC/LATINO - CENTRAL AMERICAN (OTHER)": H,
    "HISPANIC/LATINO - COLOMBIAN": H, "HISPANIC/LATINO - CUBAN": H,
    "HISPANIC/LATINO - DOMINICAN": H, "HISPANIC/LATINO - GUATEMALAN": H,
    "HISPANIC/LATINO - HONDURAN": H, "HISPANIC/LATINO - MEXICAN": H,
    "HISPANIC/LATINO - PUERTO RICAN": H, "HISPANIC/LATINO - SALVADORAN": H,
    "MIDDLE EASTERN": "Other", "MULTI RACE ETHNICITY": "Other",
    "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER": NHPI, "OTHER": "Other",
    "PATIENT DECLINED TO ANSWER": "Unknown", "PORTUGUESE": "White", "SOUTH AMERICAN": H,
    "UNABLE TO OBTAIN": "Unknown", "UNKNOWN/NOT SPECIFIED": "Unknown",
    "WHITE": "White", "WHITE - BRAZILIAN": "White", "WHITE - EASTERN EUROPEAN": "White",
    "WHITE - OTHER EUROPEAN": "White", "WHITE - RUSSIAN": "White",
}
MIMIC_IV = {
    "AMERICAN INDIAN/ALASKA NATIVE": AIAN, "ASIAN": "Asian", "ASIAN - ASIAN INDIAN": "Asian",
    "ASIAN - CHINESE": "Asian", "ASIAN - KOREAN": "Asian", "ASIAN - SOUTH EAST ASIAN": "Asian",
    "BLACK/AFRICAN": "Black", "BLACK/AFRICAN AMERICAN": "Black", "BLACK/CAPE VERDEAN": "Black",
    "BLACK/CARIBBEAN ISLAND": "Black", "HISPANIC OR LATINO": H,
    "HISPANIC/LATINO - CENTRAL AMERICAN": H, "HISPANIC/LATINO - COLUMBIAN": H,
    "HISPANIC/LATINO - CUBAN": H, "HISPANIC/LATINO - DOMINICAN": H,
    "HISPANIC/LATINO - GUATEMALAN": H, "HISPANIC/LATINO - HONDURAN": H,
    "HISPANIC/LATINO - MEXICAN": H, "HISPANIC/LATINO - PUERTO RICAN": H,
    "HISPANIC/LATINO - SALVADORAN": H, "MULTIPLE RACE/ETHNICITY": "Other",
    "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER": NHPI, "OTHER": "Other",
    "PATIENT DECLINED TO ANSWER": "Unknown", "PORTUGUESE": "White", "SOUTH AMERICAN": H,
    "UNABLE TO OBTAIN": "Unknown", "UNKNOWN": "Unknown", "WHITE": "White",
    "WHITE - BRAZILIAN": "White", "WHITE - EASTERN EUROPEAN": "White",
    "WHITE - OTHER EUROPEAN": "White", "WHITE - RUSSIAN": "White",
}
MIMIC_IV_V1 = {
    "AMERICAN INDIAN/ALASKA NATIVE": AIAN, "ASIAN": "Asian", "BLACK/AFRICAN AMERICAN": "Black",
    "HISPANIC/LATINO": H, "OTHER": "Other", "UNABLE TO OBTAIN": "Unknown",
    "UNKNOWN": "Unknown", "WHITE": "White",
}
# raw -> (race, hispanic flag)
CHEXPERT = {
    "White": ("White", None), "White, non-Hispanic": ("White", False),
    "White, Hispanic": ("White", True), "White or Caucasian": ("White", None),
    "Black or African American": ("Black", None), "Black, non-Hispanic": ("Black", False),
    "Black, Hispanic": ("Black", True), "Asian": ("Asian", None),
    "Asian, non-Hispanic": ("Asian", False), "Asian, Hispanic": ("Asian", True),
    "Asian - Historical Conv": ("Asian", None),
    "Native Hawaiian or Other Pacific Islander": (NHPI, None),
    "Pacific Islander, non-Hispanic": (NHPI, False), "Pacific Islander, Hispanic": (NHPI, True),
    "American Indian or Alaska Native": (AIAN, None),
    "Native American, non-Hispanic": (AIAN, False), "Native American, Hispanic": (AIAN, True),
    "Other": ("Other", None), "Other, non-Hispanic": ("Other", False),
    "Other, Hispanic": ("Other", True), "Unknown": ("Unknown", None),
    "Patient Refused": ("Unknown", None), "Race and Ethnicity Unknown": ("Unknown", None),
}
FREE_TEXT = {
    "African American": "Black", "African-American": "Black", "Afro-American": "Black",
    "Afr Am": "Black", "AA": "Black", "Black": "Black", "Black American": "Black",
    "Black or African American": "Black", "Caucasian": "White", "White": "White",
    "White American": "White", "European American": "White", "Asian": "Asian",
    "Asian American": "Asian", "Asian-American": "Asian", "Asian Indian": "Asian",
    "South Asian": "Asian", "East Asian": "Asian", "Southeast Asian": "Asian",
    "Chinese": "Asian", "Japanese": "Asian", "Korean": "Asian", "Vietnamese": "Asian",
    "Filipino": "Asian", "Hispanic": H, "Latino": H, "Latina": H, "Latinx": H,
    "Hispanic or Latino": H, "Hispanic/Latino": H, "Mexican": H, "Puerto Rican": H,
    "Native American": AIAN, "American Indian": AIAN, "Alaska Native": AIAN,
    "Alaskan Native": AIAN, "American Indian or Alaska Native": AIAN,
    "Native Hawaiian": NHPI, "Pacific Islander": NHPI,
    "Native Hawaiian or Other Pacific Islander": NHPI, "Middle Eastern": "Other",
    "Multiracial": "Other", "Biracial": "Other", "Mixed race": "Other", "Other": "Other",
    "Unknown": "Unknown", "Not reported": "Unknown", "Declined": "Unknown",
    "Refused": "Unknown", "Patient declined": "Unknown", "Unable to obtain": "Unknown",
    "Prefer not to say": "Unknown",
}


@pytest.mark.parametrize(
    ("source", "expected", "n"),
    [("mimic-iii", MIMIC_III, 41), ("mimic-iv", MIMIC_IV, 33), ("mimic-iv-v1", MIMIC_IV_V1, 8)],
)
def test_mimic_vocabularies_map_every_value(source, expected, n):
    assert len(expected) == n
    assert sorted(vocabulary(source)["raw"]) == sorted(expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = harmonize(list(expected), source=source)
    assert list(out["race"]) == list(expected.values())
    flags = out["hispanic"].fillna(False).tolist()
    assert flags == [v == H for v in expected.values()]


def test_chexpert_primary_race_every_value():
    assert sorted(vocabulary("chexpert")["raw"]) == sorted(CHEXPERT)
    out = harmonize(list(CHEXPERT), source="chexpert")
    assert list(out["race"]) == [r for r, _ in CHEXPERT.values()]
    assert [None if pd.isna(f) else bool(f) for f in out["hispanic"]] == [
        f for _, f in CHEXPERT.values()]


def test_chexpert_ethnicity_sets_hispanic_flag():
    race = ["White", "White", "Other", "Asian", "Black, non-Hispanic"]
    eth = ["Non-Hispanic/Non-Latino", "Hispanic/Latino", "Patient Refused", "Unknown", None]
    out = harmonize(race, "chexpert", ethnicity=eth)
    assert [None if pd.isna(f) else bool(f) for f in out["hispanic"]] == [
        False, True, None, None, False]
    groups, excluded = apply_collapse(out, "abw")
    assert groups.tolist()[0] == "White" and pd.isna(groups.iloc[1])
    assert excluded == {"White": 1, "Other": 1}


def test_free_text_synonyms():
    out = harmonize(list(FREE_TEXT), source="free-text")
    assert list(out["race"]) == list(FREE_TEXT.values())


def test_auto_is_the_consistent_union():
    # every spelling shared by two vocabularies must mean the same thing there
    seen: dict[str, tuple] = {}
    for source in SOURCES:
        for row in vocabulary(source).itertuples(index=False):
            key = " ".join(row.raw.casefold().split())
            value = (row.race, None if pd.isna(row.hispanic) else bool(row.hispanic))
            assert seen.setdefault(key, value) == value, (source, row.raw)
    allraw = list(MIMIC_III) + list(MIMIC_IV) + list(CHEXPERT) + list(FREE_TEXT)
    out = harmonize(allraw)  # auto: no warning
    assert set(out["race"]) <= set(CANONICAL_GROUPS)


def test_case_and_whitespace_insensitive():
    out = harmonize(["  black/african american ", "White -  RUSSIAN", "white,NON-hispanic",
                     "african   american"], "auto")
    assert list(out["race"]) == ["Black", "White", "White", "Black"]


def test_unmatched_values_go_to_other_with_one_warning():
    values = ["Martian"] * 6 + ["WHITE", "Klingon"] + ["Vulcan"] * 5
    with pytest.warns(UnmatchedLabelWarning, match=r"'Martian' \(n=6\), 'Vulcan' \(n=5\); "
                      r"1 other distinct value\(s\) not shown") as rec:
        out = harmonize(values)
    assert len(rec) == 1
    assert "Klingon" not in str(rec[0].message)  # rare: could be an identifier
    assert list(out["race"]) == ["Other"] * 6 + ["White", "Other"] + ["Other"] * 5


def test_rare_unrecognised_values_are_counted_not_named():
    # an identifier column passed as race: every value unique, none may reach a report
    ids = [f"MRN{i:06d}" for i in range(8)]
    with pytest.warns(UnmatchedLabelWarning, match=r"Other.: .Martian. \(n=5\); 8 other distinct value"):
        frame = harmonize(ids + ["UNKNOWN", "UNKNOWN"] + ["Martian"] * 5)
    groups, excluded = apply_collapse(frame, "abw")
    assert groups.isna().all()
    assert excluded == {RARE_UNKNOWN_KEY: 8, "Martian": 5, "UNKNOWN": 2}
    assert not any(k.startswith("MRN") for k in excluded)


def test_missing_values_are_unknown_and_index_kept():
    out = harmonize(pd.Series([None, float("nan"), "", "ASIAN"], index=[10, 11, 12, 13]))
    assert list(out.index) == [10, 11, 12, 13]
    assert list(out["race"]) == ["Unknown", "Unknown", "Unknown", "Asian"]


def test_unknown_source_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown race source 'mimic-v'"):
        harmonize(["WHITE"], source="mimic-v")


@pytest.mark.parametrize(
    ("collapse", "expected", "excluded"),
    [
        ("abw", ["Asian", "Black", "White", None, None, None, None, None],
         {"HISPANIC OR LATINO": 1, "UNKNOWN": 1, "OTHER": 1, "AMERICAN INDIAN/ALASKA NATIVE": 1,
          "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER": 1}),
        ("abhw", ["Asian", "Black", "White", "Hispanic", None, None, None, None],
         {"UNKNOWN": 1, "OTHER": 1, "AMERICAN INDIAN/ALASKA NATIVE": 1,
          "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER": 1}),
        ("omb", ["Asian", "Black", "White", None, None, None, AIAN, NHPI],
         {"HISPANIC OR LATINO": 1, "UNKNOWN": 1, "OTHER": 1}),
        ("bw", [None, "Black", "White", None, None, None, None, None],
         {"ASIAN": 1, "HISPANIC OR LATINO": 1, "UNKNOWN": 1, "OTHER": 1,
          "AMERICAN INDIAN/ALASKA NATIVE": 1, "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER": 1}),
    ],
)
def test_collapses(collapse, expected, excluded):
    raw = ["ASIAN", "BLACK/AFRICAN AMERICAN", "WHITE", "HISPANIC OR LATINO", "UNKNOWN", "OTHER",
           "AMERICAN INDIAN/ALASKA NATIVE", "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER"]
    groups, counts = apply_collapse(harmonize(raw, "mimic-iv"), collapse)
    assert [None if pd.isna(g) else g for g in groups] == expected
    assert counts == excluded
    assert set(COLLAPSES) == {"abw", "abhw", "omb", "bw"}


def test_collapse_counts_per_raw_value_largest_first():
    raw = ["HISPANIC OR LATINO"] * 3 + ["UNKNOWN"] * 2 + ["WHITE"] * 4 + [None]
    groups, counts = apply_collapse(harmonize(raw), "abw")
    assert counts == {"HISPANIC OR LATINO": 3, "UNKNOWN": 2, "<missing>": 1}
    assert list(counts) == ["HISPANIC OR LATINO", "UNKNOWN", "<missing>"]
    assert int(groups.notna().sum()) == 4


def test_collapse_of_plain_series_counts_groups_and_rejects_raw():
    groups, counts = apply_collapse(pd.Series(["White", "Other", "Other"]), "bw")
    assert counts == {"Other": 2}
    with pytest.raises(LabelError, match="run harmonize"):
        apply_collapse(pd.Series(["WHITE"]), "abw")
    with pytest.raises(LabelError, match="unknown collapse 'abc'"):
        apply_collapse(pd.Series(["White"]), "abc")


def test_consistency_drop_and_mode():
    df = pd.DataFrame({"p": [1, 1, 1, 2, 2, 3, 3],
                       "r": ["White", "Black", "White", "Asian", "Unknown", "Black", "White"]})
    assert inconsistent_patients(df, "p", "r") == [1, 3]
    dropped = consistent_patients(df, "p", "r", "drop")
    assert dropped.index.tolist() == [3, 4]
    moded = consistent_patients(df, "p", "r", "mode")
    # patient 1: White twice; patient 3: tie Black/White -> alphabetically first
    assert moded["r"].tolist() == ["White", "White", "White", "Asian", "Unknown", "Black", "Black"]
    with pytest.raises(ConfigError):
        consistent_patients(df, "p", "r", "vote")


def test_label_cohort_accounts_for_every_row():
    df = pd.DataFrame({
        "subject": [1, 1, 2, 2, 3, 4, 5, 6],
        "eth": ["WHITE", "BLACK/AFRICAN AMERICAN", "ASIAN - CHINESE", "UNKNOWN", "WHITE - BRAZILIAN",
                "HISPANIC/LATINO - PUERTO RICAN", "HISPANIC/LATINO - PUERTO RICAN", "BLACK/AFRICAN"],
        "x": range(8),
    })
    lc = label_cohort(df, race_col="eth", patient_col="subject", source="mimic-iv")
    assert lc.excluded == {INCONSISTENT_KEY: 2, "HISPANIC/LATINO - PUERTO RICAN": 2, "UNKNOWN": 1}
    assert len(lc.table) + sum(lc.excluded.values()) == len(df)
    assert lc.table["race"].tolist() == ["Asian", "White", "Black"]
    assert lc.table["race_raw"].tolist() == ["ASIAN - CHINESE", "WHITE - BRAZILIAN", "BLACK/AFRICAN"]
    assert lc.table["x"].tolist() == [2, 4, 7]
    assert lc.groups == {"Asian": 1, "Black": 1, "White": 1}
    abhw = label_cohort(df, "eth", "subject", collapse="abhw", consistency="none")
    assert abhw.groups == {"Asian": 1, "Black": 2, "Hispanic": 2, "White": 2}
    assert abhw.excluded == {"UNKNOWN": 1}


def test_label_cohort_chexpert_with_ethnicity_column():
    df = pd.DataFrame({"PATIENT": ["a", "b", "c"], "PRIMARY_RACE": ["White", "White", "Asian"],
                       "ETHNICITY": ["Hispanic/Latino", "Non-Hispanic/Non-Latino", "Unknown"]})
    lc = label_cohort(df, "PRIMARY_RACE", "PATIENT", source="chexpert", ethnicity_col="ETHNICITY")
    assert lc.table["PATIENT"].tolist() == ["b", "c"]
    assert lc.excluded == {"White": 1}
