"""Bad note input through ``racelens text redact / check / audit``: a clear one-line error
(exit 2) naming the file and the problem, or a counted skip; never a traceback or a silent drop.

Cases: empty and NaN notes, invalid UTF-8 bytes, a single 20 MB note, CSVs with embedded
newlines, quotes and CRLF, unknown race values, one group only, missing columns and files.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _reliability_fixtures import (
    accounted,
    assert_clean_error,
    assert_clean_success,
    note_table,
    run_cli,
)

from racelens.text.check.scan import scan_residual
from racelens.text.redact.redactor import RaceRedactor

AUDIT = ("--label-col", "race_raw", "--n-boot", "50", "--levels", "none,explicit")


@pytest.fixture(scope="module")
def notes() -> pd.DataFrame:
    return note_table(60)


def _redact(src: Path, out: Path, *extra: str):
    return run_cli("text", "redact", "-i", src, "-o", out, "--no-progress", *extra)


# --- empty and missing notes ------------------------------------------------------------------


def test_empty_and_nan_notes_are_counted_everywhere(notes: pd.DataFrame, tmp_path: Path) -> None:
    t = notes.copy()
    t.loc[0, "text"], t.loc[1, "text"], t.loc[2, "text"] = "", np.nan, " \n\t "
    t.to_csv(tmp_path / "notes.csv", index=False)
    run = _redact(tmp_path / "notes.csv", tmp_path / "red.parquet", "--chunk-rows", "50")
    assert_clean_success(run)
    assert f"rows: {len(t)}" in run.out and "skipped (empty/missing): 3" in run.out
    red = pd.read_parquet(tmp_path / "red.parquet")
    assert len(red) == len(t) and list(red["note_id"]) == list(t["note_id"])
    assert red["text"].isna().sum() == 2  # NaN and "" (CSV has no empty string) stay missing
    assert red.loc[2, "text"] == " \n\t "

    run = run_cli("text", "audit", "-i", tmp_path / "notes.csv", "-o", tmp_path / "audit",
                  "--sample-col", "note_id", *AUDIT)
    assert_clean_success(run)
    data = json.loads((tmp_path / "audit" / "result.json").read_text())["data"]
    assert accounted(data) == len(t)
    assert {s["sample_id"]: s["reason"] for s in data["skipped"]} == {
        t.loc[i, "note_id"]: "empty note" for i in range(3)}

    run = run_cli("text", "check", "-i", tmp_path / "red.parquet", "-o", tmp_path / "check",
                  "--label-col", "race_raw", "--patient-col", "patient_id", "--n-boot", "50")
    assert_clean_success(run)
    check = json.loads((tmp_path / "check" / "check.json").read_text())
    assert check["n_notes"] == len(t)


def test_a_table_of_only_empty_notes_is_an_error(tmp_path: Path) -> None:
    pd.DataFrame({"text": ["", None, "  "], "race": ["WHITE", "ASIAN", "BLACK"],
                  "patient_id": ["a", "b", "c"]}).to_csv(tmp_path / "blank.csv", index=False)
    assert_clean_error(run_cli("text", "audit", "-i", tmp_path / "blank.csv", "-o",
                               tmp_path / "a"), "no usable notes")
    run = _redact(tmp_path / "blank.csv", tmp_path / "r.parquet")
    assert_clean_success(run)
    assert "skipped (empty/missing): 3" in run.out


# --- encodings and CSV quoting ------------------------------------------------------------------


def test_invalid_utf8_is_replaced_and_counted_or_refused_by_name(notes: pd.DataFrame,
                                                                 tmp_path: Path) -> None:
    notes.to_csv(tmp_path / "ok.csv", index=False)
    raw = (tmp_path / "ok.csv").read_bytes()
    assert raw.count(b"REVIEW OF SYSTEMS") >= 3
    (tmp_path / "bad.csv").write_bytes(raw.replace(b"REVIEW OF", b"REV\xff\xfeIEW OF", 3))
    run = _redact(tmp_path / "bad.csv", tmp_path / "red.parquet", "--chunk-rows", "40")
    assert_clean_success(run)
    assert "notes with undecodable bytes (replaced): 3" in run.out  # told, not silent
    red = pd.read_parquet(tmp_path / "red.parquet")
    assert len(red) == len(notes) and red["text"].str.contains("\ufffd").sum() == 3
    for cmd, extra in (("check", ()), ("audit", AUDIT[2:])):
        run = run_cli("text", cmd, "-i", tmp_path / "bad.csv", "-o", tmp_path / cmd,
                      "--label-col", "race_raw", *extra)
        assert_clean_error(run, "bad.csv", "utf-8")


def test_embedded_newlines_quotes_and_crlf_round_trip(tmp_path: Path) -> None:
    texts = ['He said "I am African American," then left.\nNext line, with commas, "quotes".',
             "CRLF note:\r\nRace: White\r\n\r\nPlan: none",
             'A lone quote " and a backslash \\ and a tab\there; Hispanic male',
             "Multi\n\n\nparagraph\n\nnote about a 54 yo AA M",
             "\"Leading quote\", trailing comma,"]
    df = pd.DataFrame({"note_id": [f"n{i}" for i in range(len(texts))], "text": texts})
    df.to_csv(tmp_path / "quoted.csv", index=False, quoting=csv.QUOTE_MINIMAL)
    assert_clean_success(_redact(tmp_path / "quoted.csv", tmp_path / "red.parquet",
                                 "--keep-original", "original", "--chunk-rows", "2"))
    red = pd.read_parquet(tmp_path / "red.parquet")
    assert list(red["original"]) == texts  # quoting survived, row count exact
    redactor = RaceRedactor()
    assert list(red["text"]) == [redactor.redact(t).text for t in texts]
    assert all(scan_residual(t) == [] for t in red["text"])


def test_bom_and_utf16_exports(notes: pd.DataFrame, tmp_path: Path) -> None:
    # Excel writes UTF-8 with a byte-order mark (here before the first column, the text)
    t = notes[["text", "note_id", "patient_id", "race_raw"]]
    t.to_csv(tmp_path / "bom.csv", index=False, encoding="utf-8-sig")
    run = _redact(tmp_path / "bom.csv", tmp_path / "bom.parquet")
    assert_clean_success(run)
    assert list(pd.read_parquet(tmp_path / "bom.parquet").columns)[0] == "text"
    assert_clean_success(run_cli("text", "audit", "-i", tmp_path / "bom.csv", "-o",
                                 tmp_path / "a", *AUDIT[:4], "--levels", "none"))
    # "Unicode text" from Excel is UTF-16: not readable as UTF-8, and said so in one line
    t.to_csv(tmp_path / "u16.csv", index=False, encoding="utf-16")
    assert_clean_error(_redact(tmp_path / "u16.csv", tmp_path / "u16.parquet"), "u16.csv")


def test_unterminated_quote_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "broken.csv").write_text('note_id,text\nn1,"fine"\nn2,"never closed\n')
    assert_clean_error(_redact(tmp_path / "broken.csv", tmp_path / "r.parquet"), "broken.csv")
    assert not (tmp_path / "r.parquet").exists()


# --- a single 20 MB note ----------------------------------------------------------------------


def test_a_single_20mb_note_is_redacted(notes: pd.DataFrame, tmp_path: Path) -> None:
    base = "\n\n".join(notes["text"])  # realistic sentences, with race mentions
    big = (base * (20_000_000 // len(base) + 1))[:20_000_000]
    pd.DataFrame({"note_id": ["huge", "small"], "text": [big, "54 yo AA M"]}).to_csv(
        tmp_path / "huge.csv", index=False)
    run = _redact(tmp_path / "huge.csv", tmp_path / "red.parquet", "--spans",
                  tmp_path / "spans.jsonl")
    assert_clean_success(run)
    red = pd.read_parquet(tmp_path / "red.parquet")
    assert len(red) == 2 and red.loc[1, "text"] == "54 yo [RACE] M"
    spans = [json.loads(ln) for ln in (tmp_path / "spans.jsonl").read_text().splitlines()]
    n_big = sum(s["row"] == 0 for s in spans)
    per_copy = len(RaceRedactor().redact(base).spans)
    assert n_big >= per_copy * (len(big) // len(base))
    # the last span's offset is in the far end of the note: nothing was cut
    assert max(s["end"] for s in spans if s["row"] == 0) > 19_000_000
    head = red.loc[0, "text"][:200_000]
    assert scan_residual(head) == []


# --- labels: unknown values, one group ------------------------------------------------------------


def test_unknown_race_values_are_excluded_by_value(notes: pd.DataFrame, tmp_path: Path) -> None:
    t = notes.copy()
    pids = t["patient_id"].unique()
    martian = t["patient_id"].isin(pids[:3])
    t.loc[martian, "race_raw"] = "MARTIAN"
    t.to_csv(tmp_path / "unseen.csv", index=False)
    run = run_cli("text", "audit", "-i", tmp_path / "unseen.csv", "-o", tmp_path / "a", *AUDIT)
    assert_clean_success(run)
    assert "MARTIAN" in run.err  # the UnmatchedLabelWarning names the value
    data = json.loads((tmp_path / "a" / "result.json").read_text())["data"]
    assert data["excluded"]["MARTIAN"] == martian.sum()
    assert accounted(data) == len(t)


def test_one_group_only_audit_is_a_one_line_error(notes: pd.DataFrame, tmp_path: Path) -> None:
    notes.assign(race_raw="WHITE").to_csv(tmp_path / "white.csv", index=False)
    run = run_cli("text", "audit", "-i", tmp_path / "white.csv", "-o", tmp_path / "a", *AUDIT)
    assert_clean_error(run, "one group")
    assert not (tmp_path / "a" / "result.json").exists()


@pytest.mark.parametrize("race", ["WHITE", np.nan], ids=["one group", "no race values"])
def test_one_group_only_audit_error_names_file_and_column(notes: pd.DataFrame, tmp_path: Path,
                                                          race: object) -> None:
    notes.assign(race_raw=race).to_csv(tmp_path / "labels.csv", index=False)
    run = run_cli("text", "audit", "-i", tmp_path / "labels.csv", "-o", tmp_path / "a", *AUDIT)
    assert_clean_error(run, "labels.csv", "race_raw")


def test_one_group_only_check_does_not_crash(notes: pd.DataFrame, tmp_path: Path) -> None:
    notes.assign(race_raw="WHITE").to_csv(tmp_path / "white.csv", index=False)
    run = run_cli("text", "check", "-i", tmp_path / "white.csv", "-o", tmp_path / "c",
                  "--label-col", "race_raw", "--patient-col", "patient_id", "--n-boot", "50")
    assert "Traceback" not in run.everything and run.code in (0, 2), run.err[-800:]


# --- missing columns and files ----------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["redact", "check", "audit"])
def test_missing_text_column_is_a_one_line_error(notes: pd.DataFrame, tmp_path: Path,
                                                 cmd: str) -> None:
    notes.to_csv(tmp_path / "notes.csv", index=False)
    out = tmp_path / ("r.parquet" if cmd == "redact" else "out")
    extra = ("--no-progress",) if cmd == "redact" else ()
    run = run_cli("text", cmd, "-i", tmp_path / "notes.csv", "-o", out, "--text-col", "note",
                  *extra)
    assert_clean_error(run, "'note'")
    assert not out.exists()


@pytest.mark.parametrize("cmd", ["redact", "check", "audit"])
def test_missing_file_and_directory_are_one_line_errors(tmp_path: Path, cmd: str) -> None:
    (tmp_path / "folder.csv").mkdir()
    extra = ("--no-progress",) if cmd == "redact" else ()
    for src in ("nope.csv", "folder.csv"):
        run = run_cli("text", cmd, "-i", tmp_path / src, "-o", tmp_path / "o.parquet", *extra)
        assert_clean_error(run, src)


@pytest.mark.parametrize("cmd", ["redact", "check", "audit"])
def test_unwritable_output_is_a_one_line_error(notes: pd.DataFrame, tmp_path: Path,
                                               cmd: str) -> None:
    notes.head(20).to_csv(tmp_path / "notes.csv", index=False)
    (tmp_path / "afile").write_text("not a folder")
    extra = {"redact": ("--no-progress",),
             "audit": ("--label-col", "race_raw", "--patient-col", "patient_id")}.get(cmd, ())
    run = run_cli("text", cmd, "-i", tmp_path / "notes.csv", "-o", tmp_path / "afile" / "out",
                  *extra)
    assert_clean_error(run, "afile")
