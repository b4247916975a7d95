"""`racelens synth`: files in the real loaders' layouts, counts-only summary, errors."""

from __future__ import annotations

import json

import pandas as pd
import pydicom
import pytest

from racelens.cli import main as cli_main
from racelens.demo.synth import parse_note_proxies, write_synthetic_cohort
from racelens.errors import ConfigError
from racelens.shared.labels import label_cohort
from racelens.shared.synthetic import DISEASES


def test_synth_command_writes_cohort(tmp_path, capsys):
    out = tmp_path / "cohort"
    cli_main.main(["synth", "--out", str(out), "--n-patients", "12", "--seed", "3",
                   "--image-signal", "band=high,strength=0.5", "--note-proxies", "strength=0.8",
                   "--image-size", "64"])
    stdout = capsys.readouterr().out.strip()
    images = pd.read_csv(out / "images.csv")
    notes = pd.read_csv(out / "notes.csv")
    spans = [json.loads(line) for line in (out / "gold_spans.jsonl").read_text().splitlines()]
    assert stdout == (f"wrote {len(images)} images of 12 patients, {len(notes)} notes and "
                      f"{len(spans)} gold spans to {out}")
    assert "P0000" not in stdout  # counts only, no identifiers
    assert list(images.columns) == ["path", "sample_id", "patient_id", "study_id", "race", "age",
                                    "sex", "bmi", *DISEASES, "view"]
    assert images["patient_id"].nunique() == 12 and set(images["view"]) <= {"AP", "PA"}
    for row in images.itertuples():
        assert row.path == f"dicom/{row.patient_id}/{row.study_id}/1.dcm"
        ds = pydicom.dcmread(out / row.path)
        assert ds.PatientID == row.patient_id and ds.Rows == 64 and ds.ViewPosition == row.view
    # raw MIMIC-IV strings go through the real harmonisation
    lc = label_cohort(images, race_col="race", patient_col="patient_id", source="mimic-iv")
    assert len(lc.table) + sum(lc.excluded.values()) == len(images)
    assert list(notes.columns) == ["note_id", "subject_id", "sample_id", "text", "race"]
    assert notes["sample_id"].tolist() == images["sample_id"].tolist()
    texts = dict(zip(notes["note_id"], notes["text"], strict=True))
    for s in spans:
        assert set(s) == {"note_id", "start", "end", "category"}
        assert s["category"] in ("Asian", "Black", "White", "Hispanic")
        assert 0 <= s["start"] < s["end"] <= len(texts[s["note_id"]])


def test_library_function_png_and_determinism(tmp_path):
    a = write_synthetic_cohort(tmp_path / "a", 5, seed=1, image_size=32, image_format="png",
                               image_signal="strength=0", note_proxies="strength=0,mention_rate=0")
    b = write_synthetic_cohort(tmp_path / "b", 5, seed=1, image_size=32, image_format="png",
                               image_signal="strength=0", note_proxies="strength=0,mention_rate=0")
    assert all(p.suffix == ".png" and p.exists() for p in a.image_files)
    assert a.n_spans == 0 and (tmp_path / "a" / "gold_spans.jsonl").read_text() == ""
    assert a.images_csv.read_bytes() == b.images_csv.read_bytes()
    assert a.notes_csv.read_bytes() == b.notes_csv.read_bytes()
    assert [p.read_bytes() for p in a.image_files] == [p.read_bytes() for p in b.image_files]


def test_bad_signal_is_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["synth", "--out", str(tmp_path), "--image-signal", "band=ultra"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: signal band must be low, mid or high") and "\n" not in err


def test_parse_note_proxies():
    assert parse_note_proxies("strength=0.8,mention_rate=0.5") == {"proxies": 0.8, "mention_rate": 0.5}
    with pytest.raises(ConfigError):
        parse_note_proxies("level=3")
