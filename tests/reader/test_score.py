"""Scoring answers: pooled AUC against scikit-learn, readers, kappa by hand, the paired test
against a model run, the combined report, and one-line errors naming file and row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from racelens.errors import DataError
from racelens.reader.agreement import cohen_kappa, fleiss_kappa, rating_counts
from racelens.reader.make import StudyConfig, make_study
from racelens.reader.score import ScoreConfig, score_study
from racelens.shared.results import AuditResult


@pytest.fixture
def study(tmp_path, notes_csv):
    return make_study(StudyConfig(out=tmp_path / "study", notes=notes_csv,
                                  patient_col="subject_id", sample_col="note_id", n=18, seed=0))


def _answers(study, reader: str, seed: int, *, confidence: bool) -> pd.DataFrame:
    """A reader right about 60% of the time, "can't tell" now and then, confidences sometimes."""
    key = json.loads(study.key.read_text())
    groups = list(study.groups)
    rng = np.random.default_rng(seed)
    rows = []
    for item, truth in key.items():
        u = rng.random()
        guess = truth if u < 0.6 else ("cant_tell" if u > 0.9 else str(rng.choice(groups)))
        row = {"item_id": item, "reader": reader, "guess": guess, "seconds": round(rng.random() * 9, 1)}
        for g in groups:
            row[f"p_{g}"] = ""
        if confidence and guess != "cant_tell" and rng.random() < 0.5:
            c = float(rng.choice([0.5, 0.7, 0.9]))
            for g in groups:
                row[f"p_{g}"] = c if g == guess else (1 - c) / (len(groups) - 1)
        rows.append(row)
    return pd.DataFrame(rows)


def _sklearn_macro(df: pd.DataFrame, key: dict, groups: list[str]) -> float:
    truth = df["item_id"].map(key).to_numpy()
    p = df[[f"p_{g}" for g in groups]].replace("", np.nan).astype(float).to_numpy()
    onehot = np.array([np.full(len(groups), 1 / len(groups)) if g == "cant_tell"
                       else np.eye(len(groups))[groups.index(g)] for g in df["guess"]])
    scores = np.where(np.isnan(p).any(axis=1, keepdims=True), onehot, p)
    return float(np.mean([roc_auc_score(truth == g, scores[:, j]) for j, g in enumerate(groups)]))


def test_scores_match_scikit_learn(tmp_path, study):
    key = json.loads(study.key.read_text())
    groups = list(study.groups)
    a, b = _answers(study, "A", 1, confidence=True), _answers(study, "B", 2, confidence=False)
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    res = score_study(ScoreConfig(study=study.out, answers=[tmp_path / "a.csv", tmp_path / "b.csv"],
                                  out=tmp_path / "scored", n_boot=200))
    both = pd.concat([a, b], ignore_index=True)
    cond = res.conditions[0]
    assert res.modality == "human" and cond.condition.label == "redact(level=explicit)"
    assert cond.auc.macro.estimate == pytest.approx(_sklearn_macro(both, key, groups), abs=1e-12)
    assert cond.auc.macro.ci_low < cond.auc.macro.estimate < cond.auc.macro.ci_high
    assert cond.n_test == 36 and res.data.n_samples == 36 and res.data.n_patients == 18
    for name, df in (("A", a), ("B", b)):
        r = res.extras["readers"][name]
        assert r["auc"]["estimate"] == pytest.approx(_sklearn_macro(df, key, groups), abs=1e-12)
        assert r["accuracy"] == pytest.approx(accuracy_score(df["item_id"].map(key), df["guess"]))
        assert r["cant_tell_rate"] == pytest.approx(np.mean(df["guess"] == "cant_tell"))
        assert r["n_answered"] == 18 and r["n_unanswered"] == 0
    assert res.extras["cant_tell_rate"] == pytest.approx(np.mean(both["guess"] == "cant_tell"))
    agreement = res.extras["agreement"]
    assert agreement["method"] == "cohen" and agreement["n_items"] == 18
    from sklearn.metrics import cohen_kappa_score

    assert agreement["kappa"] == pytest.approx(cohen_kappa_score(a["guess"], b["guess"]))
    again = AuditResult.read(tmp_path / "scored")
    assert again.modality == "human" and again.to_dict() == res.to_dict()


def test_fleiss_kappa_by_hand():
    # 4 items, 3 readers, 2 categories: P_i = 1, 1, 1, 1/3 -> P = 5/6; p_j = 7/12, 5/12 ->
    # P_e = 74/144; kappa = (5/6 - 37/72) / (1 - 37/72) = 23/35
    assert fleiss_kappa([[3, 0], [0, 3], [3, 0], [1, 2]]) == pytest.approx(23 / 35, abs=1e-12)
    answers = [["A", "A", "A"], ["B", "B", "B"], ["A", "A", "A"], ["A", "B", "B"]]
    assert rating_counts(answers, ["A", "B"]).tolist() == [[3, 0], [0, 3], [3, 0], [1, 2]]
    # perfect agreement is 1; chance-level (each category half the time, independently) is 0 here
    assert fleiss_kappa([[2, 0], [0, 2]]) == 1.0
    with pytest.raises(DataError, match="same number"):
        fleiss_kappa([[2, 0], [1, 2]])


def test_cohen_kappa_by_hand_and_three_readers_fleiss(tmp_path, study):
    # 10 items, agreement table [[4, 1], [1, 4]]: p_o = 0.8, p_e = 0.5 -> kappa 0.6
    a = ["x"] * 5 + ["y"] * 5
    b = ["x"] * 4 + ["y"] + ["x"] + ["y"] * 4
    assert cohen_kappa(a, b) == pytest.approx(0.6, abs=1e-12)
    key = json.loads(study.key.read_text())
    items = list(key)
    frames = []
    for r, shift in (("R1", 0), ("R2", 0), ("R3", 1)):
        groups = list(study.groups)
        guesses = [groups[(groups.index(key[i]) + (shift if k % 2 else 0)) % 3]
                   for k, i in enumerate(items)]
        frames.append(pd.DataFrame({"item_id": items, "reader": r, "guess": guesses}))
    pd.concat(frames).to_csv(tmp_path / "all.csv", index=False)
    res = score_study(ScoreConfig(study=study.out, answers=[tmp_path / "all.csv"], n_boot=50))
    agreement = res.extras["agreement"]
    # per item: 9 items all agree (P_i = 1), 9 items 2 vs 1 (P_i = 1/3) -> P = 2/3; category
    # shares: each group holds a third of the answers -> P_e = 1/3; kappa = (2/3-1/3)/(2/3) = 1/2
    assert agreement["method"] == "fleiss" and agreement["n_readers"] == 3
    assert study.groups == {"Asian": 6, "Black": 6, "White": 6}
    assert agreement["kappa"] == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("rows,match", [
    ([("item001", "A", "White"), ("item999", "A", "White")],
     r"a\.csv, row 2: unknown item id 'item999'"),
    ([("item001", "A", "White"), ("item001", "A", "Black")],
     r"a\.csv, row 2: duplicate answer: reader 'A' already answered item001 \(.*a\.csv, row 1\)"),
    ([("item001", "A", "Purple")], r"a\.csv, row 1: guess 'Purple' is not a group of the study"),
    ([("item001", "", "White")], r"a\.csv, row 1: the reader column is empty"),
])
def test_bad_answers_name_file_and_row(tmp_path, study, rows, match):
    pd.DataFrame(rows, columns=["item_id", "reader", "guess"]).to_csv(tmp_path / "a.csv",
                                                                      index=False)
    with pytest.raises(DataError, match=match):
        score_study(ScoreConfig(study=study.out, answers=[tmp_path / "a.csv"], n_boot=10))


def test_bad_answer_files(tmp_path, study):
    pd.DataFrame({"item_id": ["item001"], "reader": ["A"], "guess": ["White"]}).to_csv(
        tmp_path / "a.csv", index=False)
    pd.DataFrame({"item_id": ["item001"], "reader": ["A"], "guess": ["Asian"]}).to_csv(
        tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match=r"b\.csv, row 1: duplicate answer.*a\.csv, row 1"):
        score_study(ScoreConfig(study=study.out, answers=[tmp_path / "a.csv", tmp_path / "b.csv"]))
    pd.DataFrame({"item_id": ["item001"], "reader": ["A"], "guess": ["White"],
                  "p_Purple": [0.5]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(DataError, match=r"c\.csv: column\(s\) \['p_Purple'\] name no group"):
        score_study(ScoreConfig(study=study.out, answers=[tmp_path / "c.csv"]))
    pd.DataFrame({"item": ["item001"], "guess": ["White"]}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match=r"d\.csv: missing column\(s\) \['item_id', 'reader'\]"):
        score_study(ScoreConfig(study=study.out, answers=[tmp_path / "d.csv"]))


def test_paired_with_the_model_run_and_in_the_report(tmp_path, make_notes):
    from racelens.shared.metrics import macro_auc
    from racelens.shared.report.build import build_report
    from racelens.text.audit import TextAuditConfig, run_text_audit

    notes = tmp_path / "notes.csv"
    make_notes(60, seed=0).to_csv(notes, index=False)
    run = tmp_path / "run"
    run_text_audit(TextAuditConfig(notes, patient_col="subject_id", sample_col="note_id", out=run,
                                   levels=("none", "explicit"), collapse="bw", n_boot=50))
    study = make_study(StudyConfig(out=tmp_path / "study", notes=notes, patient_col="subject_id",
                                   sample_col="note_id", collapse="bw", run=run, n=12, seed=0))
    meta = json.loads(study.study_json.read_text())
    preds = pd.read_parquet(run / "predictions.parquet")
    preds = preds[preds["condition"] == "redact(level=explicit)"].set_index("sample_id")
    sample_ids = [it["sample_id"] for it in meta["items"]]
    assert set(sample_ids) <= set(preds.index)  # the model's test items
    key = json.loads(study.key.read_text())
    frames = [_answers(study, r, s, confidence=True) for r, s in (("A", 1), ("B", 2))]
    for f, name in zip(frames, ("a", "b"), strict=True):
        f.to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "human"
    res = score_study(ScoreConfig(study=study.out, answers=[tmp_path / "a.csv", tmp_path / "b.csv"],
                                  run=run, out=out, n_boot=50))
    paired = res.extras["paired"]
    y = [key[it["item_id"]] for it in meta["items"]]
    groups = ["Black", "White"]
    model = preds.loc[sample_ids, [f"p_{g}" for g in groups]].to_numpy()
    assert paired["model_macro"] == pytest.approx(macro_auc(y, model, groups), abs=1e-12)
    both = pd.concat(frames)
    onehot = np.eye(2)[[groups.index(g) if g in groups else 0 for g in both["guess"]]]
    p = both[[f"p_{g}" for g in groups]].replace("", np.nan).astype(float).to_numpy()
    s = np.where(np.isnan(p).any(axis=1, keepdims=True),
                 np.where((both["guess"] == "cant_tell").to_numpy()[:, None], 0.5, onehot), p)
    human = pd.DataFrame(s, columns=groups).assign(item=both["item_id"].to_numpy()).groupby(
        "item")[groups].mean().loc[[it["item_id"] for it in meta["items"]]].to_numpy()
    assert paired["human_macro"] == pytest.approx(macro_auc(y, human, groups), abs=1e-12)
    assert 0 <= paired["p_value"] <= 1 and paired["n_items"] == 12

    payload = build_report([run, out])
    human_rows = [r for r in payload["headline"] if r["modality"] == "human"]
    assert [r["condition"] for r in human_rows] == ["redact(level=explicit)"]
    assert any(r["modality"] == "text" for r in payload["headline"])
    assert payload["figures"]["auc_vs_strength"].startswith("data:image/svg+xml")
    # the reader section (registered by racelens.reader.plugin): a row per reader, the kappa and
    # the paired test; aggregates only (no item, sample or patient id)
    section = next(s for s in payload["sections"] if s["key"] == "reader_studies")
    card = section["cards"][0]
    assert [r[0] for r in card["tables"][0]["rows"]] == ["A", "B"]
    facts = dict(card["facts"])
    assert facts["items"] == "12" and facts["readers"] == "2"
    assert facts["human vs model, same items"].startswith(
        f"{paired['human_macro']:.3f} vs {paired['model_macro']:.3f} (paired DeLong p = ")
    assert "agreement (Cohen's kappa)" in facts
    from racelens.shared.report.build import render_html

    html = render_html(payload)
    assert "Reader studies" in html
    assert not any(i in html for i in key) and not any(str(x) in html for x in sample_ids)
