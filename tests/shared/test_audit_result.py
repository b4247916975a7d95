"""result.json (racelens.shared.results) and the shared I/O helpers (racelens.shared.tables)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from racelens.errors import ConfigError, DataError, SchemaError
from racelens.shared.metrics import auc_with_ci, p_value_vs_chance
from racelens.shared.results import (
    SCHEMA_ID,
    AUCBlock,
    AuditResult,
    Condition,
    ConditionResult,
    DataSummary,
    Estimate,
    SkippedRow,
    evaluate_condition,
    parse_conditions,
)
from racelens.shared.tables import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
    fingerprint_table,
    read_table,
)

CLASSES = ["Asian", "Black", "White"]


def _scores(seed: int = 0, n: int = 150):
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, n)
    s = rng.dirichlet(np.ones(3), n) + 0.4 * (y[:, None] == np.array(CLASSES))
    return y, s / s.sum(axis=1, keepdims=True), np.arange(n) // 2


def _result() -> AuditResult:
    y, s, pid = _scores()
    conds = (evaluate_condition(Condition("original"), y, s, CLASSES, patient_ids=pid, n_boot=50),
             evaluate_condition(Condition("lowpass", {"radius": 10}), y, s[::-1], CLASSES,
                                patient_ids=pid, n_boot=50, extras={"note": "shuffled"}))
    data = DataSummary(n_samples=150, n_patients=75, groups={"Asian": 50, "Black": 50,
                                                               "White": 50},
                       excluded={"Unknown": 3, "Other": 2},
                       skipped=(SkippedRow("s9", "unreadable DICOM"),), fingerprint="sha256:ab")
    return AuditResult(modality="imaging", data=data, conditions=conds, config={"size": 64},
                       seed=7, extras={"fairness": {"gap": 0.1}})


def test_result_json_has_exactly_the_design_keys() -> None:
    d = json.loads(_result().to_json())
    assert set(d) == {"schema", "modality", "racelens_version", "created", "config", "seed",
                      "data", "conditions", "extras"}
    assert d["schema"] == SCHEMA_ID == "racelens.audit/1"
    assert d["modality"] == "imaging"
    assert set(d["data"]) == {"n_samples", "n_patients", "groups", "excluded", "skipped",
                              "fingerprint"}
    assert d["data"]["groups"] == {"Asian": 50, "Black": 50, "White": 50}
    assert d["data"]["excluded"] == {"Unknown": 3, "Other": 2}
    assert d["data"]["skipped"] == [{"sample_id": "s9", "reason": "unreadable DICOM"}]
    c0, c1 = d["conditions"]
    assert set(c0) == {"name", "params", "auc", "p_value_vs_chance", "n_test"}
    assert set(c1) == {"name", "params", "auc", "p_value_vs_chance", "n_test", "extras"}
    assert (c0["name"], c0["params"], c1["name"], c1["params"]) == ("original", {}, "lowpass",
                                                                    {"radius": 10})
    assert set(c0["auc"]) == {"macro", "per_group"}
    assert set(c0["auc"]["macro"]) == {"estimate", "ci_low", "ci_high"}
    assert set(c0["auc"]["per_group"]) == set(CLASSES)
    assert all(set(e) == {"estimate", "ci_low", "ci_high"} for e in c0["auc"]["per_group"].values())
    assert c0["n_test"] == 150 and 0 <= c0["p_value_vs_chance"] <= 1


def test_round_trip_is_exact(tmp_path: Path) -> None:
    r = _result()
    assert AuditResult.from_json(r.to_json()) == r
    path = r.write(tmp_path / "run")
    assert path == tmp_path / "run" / "result.json"
    assert AuditResult.read(tmp_path / "run") == r
    # no temp files; FILES.md says which files of the run directory hold per-sample data
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["FILES.md", "result.json"]
    assert r.data.n_input_rows == 150 + 5 + 1


def test_condition_labels_and_lookup() -> None:
    r = _result()
    assert r.condition("lowpass", radius=10).extras == {"note": "shuffled"}
    assert Condition("lowpass", {"radius": 10}).label == "lowpass(radius=10)"
    assert Condition("original").label == "original"
    assert hash(Condition("a", {"x": 1, "y": 2})) == hash(Condition("a", {"y": 2, "x": 1}))
    with pytest.raises(KeyError):
        r.condition("highpass")


def test_none_and_nan_become_null() -> None:
    block = AUCBlock(Estimate(0.6, None, None), {"A": Estimate(float("nan"))})
    c = ConditionResult(Condition("original"), block, float("nan"), 10)
    d = c.to_dict()
    assert d["p_value_vs_chance"] is None
    assert d["auc"]["per_group"]["A"] == {"estimate": None, "ci_low": None, "ci_high": None}
    assert ConditionResult.from_dict(json.loads(json.dumps(d))).auc.macro == Estimate(0.6)


@pytest.mark.parametrize(("text", "message"), [
    ('{"schema": "other/1"}', "not a racelens audit result: schema is 'other/1'"),
    ('{"schema": "racelens.audit/1", "modality": "imaging"}', "result.json needs key 'data'"),
    ("{not json", "result.json is not valid JSON"),
])
def test_schema_errors(text: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        AuditResult.from_json(text)


def test_bad_modality_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="modality must be one of"):
        AuditResult(modality="audio", data=DataSummary(0, 0, {}), conditions=())  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="no result.json here"):
        AuditResult.read(tmp_path)


def test_evaluate_condition_uses_shared_metrics() -> None:
    y, s, pid = _scores(1)
    for ci in ("bootstrap", "delong"):
        c = evaluate_condition(Condition("original"), y, s, CLASSES, patient_ids=pid, ci=ci,
                               n_boot=100, seed=4)
        block = auc_with_ci(y, s, CLASSES, patient_ids=pid, method=ci, n_boot=100, seed=4)
        assert c.auc == block and c.auc == AUCBlock.from_dict(block.to_dict())
        assert c.p_value_vs_chance == p_value_vs_chance(y, s, CLASSES, patient_ids=pid)
        assert c.n_test == len(y)


@pytest.mark.parametrize(("spec", "expected"), [
    ("original", [Condition("original")]),
    ("lowpass:radius=1,10,50", [Condition("lowpass", {"radius": r}) for r in (1, 10, 50)]),
    ("noise:sigma=0.1", [Condition("noise", {"sigma": 0.1})]),
    ("redact:level=explicit", [Condition("redact", {"level": "explicit"})]),
    ("bandpass:inner=10;outer=50,100", [Condition("bandpass", {"inner": 10, "outer": 50}),
                                        Condition("bandpass", {"inner": 10, "outer": 100})]),
])
def test_parse_conditions(spec: str, expected: list[Condition]) -> None:
    assert parse_conditions(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty condition"),
    ("low pass:radius=1", "bad name 'low pass'"),
    ("lowpass:radius", "expected param=value"),
])
def test_parse_conditions_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_conditions(spec)


# ------------------------------------------------------------------------------------------ io


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a" / "out.txt"
    atomic_write_text(target, "first")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]
    with pytest.raises(ValueError):
        atomic_write_json(target, {"x": math.nan})  # JSON has no NaN
    assert target.read_text() == "first"
    atomic_write_json(target, {"x": np.int64(3), "y": np.float32(0.5), "z": np.arange(2)})
    assert json.loads(target.read_text()) == {"x": 3, "y": 0.5, "z": [0, 1]}


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".tsv", ".parquet", ".jsonl"])
def test_read_table_formats(tmp_path: Path, suffix: str) -> None:
    df = pd.DataFrame({"patient_id": ["p1", "p2"], "race": ["White", "Black"], "age": [40, 71]})
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        atomic_write_parquet(path, df)
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    pd.testing.assert_frame_equal(read_table(path), df)
    if suffix != ".jsonl":
        assert list(read_table(path, columns=["race"]).columns) == ["race"]


def test_read_table_jsonl_selects_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    pd.DataFrame({"patient_id": ["p1"], "race": ["White"]}).to_json(path, orient="records",
                                                                     lines=True)
    assert list(read_table(path, columns=["race"]).columns) == ["race"]


def test_read_table_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "t.txt").write_text("a")
    with pytest.raises(DataError, match="unknown table format"):
        read_table(tmp_path / "t.txt")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(DataError, match="cannot read table"):
        read_table(tmp_path / "t.parquet", columns=["b"])


def test_fingerprint_ignores_row_order_but_not_values() -> None:
    df = pd.DataFrame({"sample_id": ["a", "b", "c"], "race": ["White", "Black", "Asian"]})
    fp = fingerprint_table(df)
    assert fp.startswith("sha256:")
    assert fingerprint_table(df.iloc[::-1]) == fp
    changed = df.assign(race=["White", "Black", "White"])
    assert fingerprint_table(changed) != fp
    assert fingerprint_table(df, ["sample_id"]) == fingerprint_table(changed, ["sample_id"])


def test_check_writable_dir(tmp_path: Path) -> None:
    from racelens.shared.tables import check_writable_dir

    assert check_writable_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # nothing is created
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_writable_dir(tmp_path / "file" / "run")


def test_run_documents_share_one_reader_that_names_the_file(tmp_path: Path) -> None:
    from racelens.shared.run_files import read_run_document
    from racelens.shared.shortcut import ShortcutResult

    (tmp_path / "result.json").write_text('{"schema": "other/1"}', encoding="utf-8")
    with pytest.raises(SchemaError, match=r"result\.json: not a racelens audit result"):
        AuditResult.read(tmp_path)
    (tmp_path / "shortcut.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"shortcut\.json: expected a JSON object, got list"):
        ShortcutResult.read(tmp_path)
    (tmp_path / "shortcut.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"shortcut\.json: not valid JSON"):
        ShortcutResult.read(tmp_path / "shortcut.json")
    with pytest.raises(SchemaError, match="no explain.json here; run it"):
        read_run_document(tmp_path, "explain.json", hint="run it")
    (tmp_path / "explain.json").write_text('{"schema": "s/1", "modality": "text"}', encoding="utf-8")
    path, doc = read_run_document(tmp_path, "explain.json", schema="s/1", modality="text")
    assert path == tmp_path / "explain.json" and doc["modality"] == "text"
    with pytest.raises(SchemaError, match="modality is 'text', expected 'imaging'"):
        read_run_document(tmp_path, "explain.json", schema="s/1", modality="imaging")
