"""Making a study: sampling, the blinded page (no truth, no network resource), files, errors."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from racelens.errors import ConfigError, DataError
from racelens.reader.make import StudyConfig, make_study
from racelens.reader.order import fnv1a32, mulberry32, reader_order


def _page_items(html: str) -> list[dict]:
    m = re.search(r'<script type="application/json" id="study-items">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def _page_config(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="study-config">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_note_study_one_item_per_patient_stratified(tmp_path, notes_csv):
    study = make_study(StudyConfig(out=tmp_path / "s", notes=notes_csv, patient_col="subject_id",
                                   sample_col="note_id", n=12, seed=0))
    meta = json.loads(study.study_json.read_text())
    key = json.loads(study.key.read_text())
    ids = study.items_csv.read_text().split()
    assert ids[0] == "item_id" and ids[1:] == [f"item{i:03d}" for i in range(1, 13)]
    assert set(key) == set(ids[1:])
    assert study.groups == {"Asian": 4, "Black": 4, "White": 4}  # 10 patients each, 12 of 30
    patients = [it["patient_id"] for it in meta["items"]]
    assert len(set(patients)) == len(patients) == 12
    assert meta["condition"] == {"name": "redact", "params": {"level": "explicit"}}
    assert meta["n_candidates"] == 60 and meta["n_candidate_patients"] == 30
    files_md = (study.out / "FILES.md").read_text()
    assert "holds patient data" in files_md and "`reader.html`" in files_md
    # the same seed gives the same study
    again = make_study(StudyConfig(out=tmp_path / "s2", notes=notes_csv, patient_col="subject_id",
                                   sample_col="note_id", n=12, seed=0))
    assert json.loads(again.key.read_text()) == key


def test_page_never_contains_the_truth_nor_a_network_resource(tmp_path, notes_csv):
    study = make_study(StudyConfig(out=tmp_path / "s", notes=notes_csv, patient_col="subject_id",
                                   sample_col="note_id", n=15, seed=1))
    html = study.page.read_text()
    key = json.loads(study.key.read_text())
    meta = json.loads(study.study_json.read_text())
    items = _page_items(html)
    # items carry an id and what the reader sees, nothing else, in items.csv order
    assert all(set(it) == {"id", "body"} for it in items)
    assert [it["id"] for it in items] == study.items_csv.read_text().split()[1:]
    # ids are numbered after a shuffle: their order is not sorted by group
    truth = [key[it["id"]] for it in items]
    assert truth != sorted(truth) and truth != sorted(truth, reverse=True)
    # the key mapping in any spelling, and ids of samples or patients, are not in the page
    for item_id, group in key.items():
        for pattern in (f'"{item_id}": "{group}"', f'"{item_id}":"{group}"',
                        f"{item_id},{group}", f"{item_id}\t{group}"):
            assert pattern not in html
    assert study.key.read_text() not in html
    for it in meta["items"]:
        assert f'"{it["sample_id"]}"' not in html and f'"{it["patient_id"]}"' not in html
    # the group names appear as the answer choices only (notes are redacted)
    cfg = _page_config(html)
    assert cfg["groups"] == ["Asian", "Black", "White"] and set(cfg) == {
        "study_id", "seed", "groups", "kind", "confidence", "cant_tell"}
    bodies = " ".join(it["body"] for it in items)
    assert "[RACE]" in bodies and not re.search(r"African American|Caucasian|\bAsian\b", bodies)
    # self-contained: no external reference of any kind, and a policy that forbids them
    assert not re.search(r"""(?:src|href|action)\s*=\s*["'](?!data:)""", html)
    assert not re.search(r"https?://|//cdn|@import|url\(", html)
    assert "default-src 'none'" in html


def test_image_study_embeds_downscaled_pngs_and_counts_unreadable(tmp_path):
    from racelens.imaging.sources.cohort import from_table, write_manifest
    from racelens.imaging.synthetic import write_png

    rng = np.random.default_rng(0)
    rows = []
    for p in range(8):
        path = tmp_path / "img" / f"p{p}.png"
        write_png(path, rng.random((96, 80)))
        rows.append({"path": str(path), "race": "BLACK/AFRICAN AMERICAN" if p % 2 else "WHITE",
                     "pid": p})
    bad = tmp_path / "img" / "bad.png"
    bad.write_bytes(b"not a png at all")
    rows.append({"path": str(bad), "race": "WHITE", "pid": 99})
    cohort = from_table(pd.DataFrame(rows), path_col="path", race_col="race", patient_col="pid",
                        race_source="mimic-iv", collapse="bw")
    manifest, _ = write_manifest(cohort, tmp_path / "manifest.parquet")
    study = make_study(StudyConfig(out=tmp_path / "s", manifest=manifest, n=20, seed=0,
                                   image_size=48))
    assert study.condition.label == "original"
    assert study.n_items == 8 and sum(study.skipped.values()) == 1
    assert next(iter(study.skipped)).startswith("image not readable")
    items = _page_items(study.page.read_text())
    for it in items:
        assert it["body"].startswith("data:image/png;base64,")
        im = Image.open(io.BytesIO(base64.b64decode(it["body"].split(",", 1)[1])))
        assert im.mode == "L" and max(im.size) == 48 and im.size == (40, 48)
    assert _page_config(study.page.read_text())["kind"] == "image"


def test_reader_order_is_a_seeded_permutation():
    ids = [f"item{i:03d}" for i in range(1, 41)]
    a = reader_order(ids, 0, "Reader A")
    assert sorted(a) == ids and a == reader_order(ids, 0, "  Reader A ")
    assert a != reader_order(ids, 0, "Reader B") and a != reader_order(ids, 1, "Reader A")
    # FNV-1a's published test vectors; mulberry32's first draws as the page's JavaScript
    # (the same function run in node) gives them
    assert fnv1a32(b"") == 0x811C9DC5 and fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968
    gen = mulberry32(0xDEADBEEF)
    assert [round(next(gen), 10) for _ in range(3)] == [0.9413696141, 0.2671957498, 0.7720333575]


@pytest.mark.parametrize("kwargs,match", [
    ({}, "exactly one of --notes"),
    ({"notes": "a.csv", "manifest": "m.parquet"}, "exactly one of --notes"),
    ({"notes": "a.csv", "level": "some"}, "level must be one of"),
    ({"notes": "a.csv", "n": 1}, "n must be at least 2"),
])
def test_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        StudyConfig(out=tmp_path / "s", **kwargs)


def test_run_of_the_wrong_kind_or_without_the_items(tmp_path, notes_csv):
    from racelens.shared.results import AuditResult, DataSummary

    run = tmp_path / "run"
    AuditResult("imaging", DataSummary(0, 0, {}), ()).write(run)
    with pytest.raises(DataError, match="predictions.parquet: not found"):
        make_study(StudyConfig(out=tmp_path / "s", notes=notes_csv, patient_col="subject_id",
                               run=run))
    pd.DataFrame({"sample_id": ["x"], "condition": ["redact(level=explicit)"], "split": ["test"],
                  "y_true": ["White"], "p_Black": [0.1], "p_White": [0.9]}
                 ).to_parquet(run / "predictions.parquet")
    with pytest.raises(ConfigError, match="a imaging run cannot pair with a text study"):
        make_study(StudyConfig(out=tmp_path / "s", notes=notes_csv, patient_col="subject_id",
                               run=run))
