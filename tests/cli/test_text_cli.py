"""``racelens text check`` and ``racelens text audit`` through the root command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from racelens.cli import main as cli_main
from racelens.shared.results import AuditResult

FILL = ["chest pain", "denies fever", "lungs clear", "abdomen soft", "ct negative", "walks well"]


def _notes(n_patients: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        black = bool(p % 2)
        body = list(rng.choice(FILL, size=3, replace=False))
        if rng.random() < 0.8:
            body.append("sickle trait" if black else "lakeside cabin")
        text = f"{int(rng.integers(30, 80))} yo {'AA' if black else 'white'} M. " + ". ".join(body)
        rows.append({"subject_id": p, "race": "BLACK/AFRICAN AMERICAN" if black else "WHITE",
                     "original": text, "text": text.replace(" AA ", " [RACE] ")})
    return pd.DataFrame(rows)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        cli_main.main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_text_check_writes_json_and_summary(tmp_path, capsys):
    df = _notes(160, 0)
    path = tmp_path / "redacted.parquet"
    df.to_parquet(path)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(
        json.dumps({"row": i, "start": t.index(w), "end": t.index(w) + len(w)}) + "\n"
        for i, t in enumerate(df["original"]) for w in ("AA", "white") if f" {w} " in t))
    code, out, err = _run(capsys, "text", "check", "--input", str(path), "--text-col", "text",
                          "--label-col", "race", "--patient-col", "subject_id",
                          "--original-col", "original", "--gold-spans", str(gold),
                          "--out", str(tmp_path / "chk"), "--n-boot", "100")
    assert code == 0, err
    rep = json.loads((tmp_path / "chk" / "check.json").read_text())
    n_white = int((df["race"] == "WHITE").sum())
    # "white" was left in the white patients' notes: the scan finds every one
    assert rep["residual"]["n_mentions"] == n_white
    assert rep["residual"]["terms"] == {"white": n_white}
    assert rep["residual"]["per_group"]["Black"]["n_mentions"] == 0
    assert rep["spans"]["recall"] == 1.0 and rep["spans"]["n_gold"] == len(df)
    assert rep["leakage"]["auc"]["macro"]["estimate"] > 0.9
    assert "Residual mentions" in out and "chest pain" not in out
    code, _, err = _run(capsys, "text", "check", "--input", str(path), "--text-col", "nope",
                        "--out", str(tmp_path / "x"))
    assert code == 2 and err.startswith("error: ") and "nope" in err


def test_text_audit_writes_result(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    _notes(120, 1).drop(columns=["text"]).rename(columns={"original": "text"}).to_csv(
        path, index=False)
    code, out, err = _run(capsys, "text", "audit", "--input", str(path), "--text-col", "text",
                          "--label-col", "race", "--patient-col", "subject_id",
                          "--out", str(tmp_path / "run"), "--levels", "none,explicit",
                          "--replacements", "token,delete",
                          "--strip-proxies", "1", "--collapse", "bw", "--n-boot", "50")
    assert code == 0, err
    res = AuditResult.read(tmp_path / "run")
    assert res.modality == "text" and res.config["collapse"] == "bw"
    assert [c.condition.label for c in res.conditions] == [
        "original", "redact(level=explicit)", "redact(level=explicit,replacement=delete)",
        "strip_proxies(level=explicit,k=1)"]
    assert res.data.n_samples == 120
    assert "redact(level=explicit)" in out and "replacement=delete" in out
    assert (tmp_path / "run" / "predictions.parquet").exists()
    code, _, err = _run(capsys, "text", "audit", "--input", str(path), "--out",
                        str(tmp_path / "r2"), "--levels", "all")
    assert code == 2 and "levels" in err
    code, _, err = _run(capsys, "text", "audit", "--input", str(path), "--out",
                        str(tmp_path / "r3"), "--replacements", "mask")
    assert code == 2 and "replacements" in err


def test_text_check_samples_whole_patients_for_the_leakage_probe(tmp_path, capsys):
    df = pd.concat([_notes(200, 2)] * 3, ignore_index=True)  # three notes per patient
    df.to_csv(tmp_path / "red.csv", index=False)
    code, out, err = _run(capsys, "text", "check", "-i", str(tmp_path / "red.csv"), "-o",
                          str(tmp_path / "chk"), "--label-col", "race", "--patient-col",
                          "subject_id", "--n-boot", "50", "--max-leakage-notes", "300",
                          "--chunk-rows", "64", "--min-patients", "5")
    assert code == 0, err
    rep = json.loads((tmp_path / "chk" / "check.json").read_text())
    sample = rep["leakage_sample"]
    assert sample["n_notes"] == 3 * sample["n_patients"] and 270 < sample["n_notes"] <= 300
    assert sample["n_notes_labelled"] == len(df) and rep["n_notes"] == len(df)
    leak = rep["leakage"]
    assert leak["n_train"] + leak["n_val"] + leak["n_test"] == sample["n_notes"]
    assert all(p["n_patients"] >= 5 for p in rep["proxies"])
    assert f"fitted on {sample['n_notes']:,} notes" in out


def test_text_audit_of_a_redacted_file_reports_the_checks_number(tmp_path, capsys):
    """`text audit --original-col` scores the file's own redaction (here one that left "white"
    in: redacting again would find it) and gives the number `text check` gives for it."""
    df = _notes(160, 4)
    path = tmp_path / "redacted.parquet"
    df.to_parquet(path)
    common = ("--input", str(path), "--text-col", "text", "--label-col", "race",
              "--patient-col", "subject_id", "--n-boot", "100", "--seed", "1")
    code, out, err = _run(capsys, "text", "check", *common, "--out", str(tmp_path / "chk"))
    assert code == 0, err
    code, out, err = _run(capsys, "text", "audit", *common, "--original-col", "original",
                          "--levels", "none,explicit", "--collapse", "abw",
                          "--out", str(tmp_path / "run"))
    assert code == 0, err
    res = AuditResult.read(tmp_path / "run")
    check = json.loads((tmp_path / "chk" / "check.json").read_text())
    red = res.condition("redact", level="explicit").auc.macro.to_dict()
    assert check["leakage"]["auc"]["macro"] == red
    assert red["estimate"] > 0.99  # "white" is still in the file's redaction
    # the original column is the unredacted condition; the redacted one left "white" in
    assert res.extras["check"]["explicit"]["residual"]["terms"] == {
        "white": int((df["race"] == "WHITE").sum())}


def test_text_explain_writes_explain_json(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    _notes(160, 2).drop(columns=["text"]).rename(columns={"original": "text"}).to_csv(
        path, index=False)
    code, out, err = _run(capsys, "text", "explain", "--input", str(path), "--label-col", "race",
                          "--patient-col", "subject_id", "--min-patients", "5",
                          "--n-boot", "50", "--no-progress", "--out", str(tmp_path / "ex"))
    assert code == 0, err
    doc = json.loads((tmp_path / "ex" / "explain.json").read_text())
    assert doc["schema"] == "racelens.explain/1" and doc["modality"] == "text"
    assert doc["config"]["min_patients"] == 5
    assert "top terms Black" in out and "sickle" in out and "explain.json" in out
    code, _, err = _run(capsys, "text", "explain", "--input", str(path), "--out",
                        str(tmp_path / "e2"), "--model", "embeddings:/nowhere")
    assert code == 2 and "text explain takes" in err
