"""The text audit end to end on generated notes with explicit mentions and planted proxies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from racelens.errors import ConfigError
from racelens.shared.results import AuditResult
from racelens.text.audit import TextAuditConfig, run_text_audit, strip_ngrams

FILL = ["presents with chest pain", "denies fever", "history of hypertension", "lungs clear",
        "abdomen soft", "follow up in clinic", "ct head negative", "ambulating well"]
EXPLICIT = {"Black": "African American", "White": "Caucasian"}
PROXY = {"Black": "sickle trait", "White": "lakeside cabin"}


def note_table(n_patients: int, seed: int, *, proxy: float) -> pd.DataFrame:
    """Two notes per patient; race always named; a proxy phrase with probability ``proxy``."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        g = "Black" if p % 2 else "White"
        for k in range(2):
            body = list(rng.choice(FILL, size=4, replace=False))
            if rng.random() < proxy:
                body.insert(int(rng.integers(0, 4)), PROXY[g])
            rows.append({"note_id": f"n{p}-{k}", "subject_id": 1000 + p,
                         "race": {"Black": "BLACK/AFRICAN AMERICAN", "White": "WHITE"}[g],
                         "text": f"{int(rng.integers(30, 80))} yo {EXPLICIT[g]} M. "
                                 + ". ".join(body) + "."})
    rows.append({"note_id": "empty", "subject_id": 1, "race": "WHITE", "text": ""})
    rows.append({"note_id": "unk", "subject_id": 2, "race": "UNKNOWN", "text": "denies fever."})
    return pd.DataFrame(rows)


def test_strip_ngrams_whole_tokens():
    out = strip_ngrams(["Sickle trait, SICKLE  a trait; sicklet [RACE] M", "no"],
                       ["sickle trait", "[race]"])
    assert out == [" ,  ; sicklet   M", "no"]


def test_audit_levels_and_proxy_stripping(tmp_path):
    df = note_table(90, 0, proxy=0.8)
    path = tmp_path / "notes.parquet"
    df.to_parquet(path)
    cfg = TextAuditConfig(path, text_col="text", label_col="race", patient_col="subject_id",
                          sample_col="note_id", out=tmp_path / "run",
                          levels=("none", "explicit"), strip_proxies=2, proxy_step=1,
                          collapse="bw", n_boot=100)
    res = run_text_audit(cfg)
    assert [c.condition.label for c in res.conditions] == [
        "original", "redact(level=explicit)", "strip_proxies(level=explicit,k=1)",
        "strip_proxies(level=explicit,k=2)"]
    orig = res.condition("original").auc.macro
    red = res.condition("redact", level="explicit").auc.macro
    assert orig.estimate > 0.99  # race is named in every note
    assert red.ci_low > 0.6  # the planted proxies survive explicit redaction
    removed = res.extras["strip_proxies"]["removed"]
    assert len(removed) == 2 and {w for g in removed for w in g.split()} & {
        "sickle", "trait", "lakeside", "cabin"}
    # every input row accounted for
    d = res.data
    assert d.n_samples + sum(d.excluded.values()) + len(d.skipped) == len(df)
    assert d.excluded == {"UNKNOWN": 1} and [s.reason for s in d.skipped] == ["empty note"]
    # paired: the same test notes in every condition
    preds = pd.read_parquet(tmp_path / "run" / "predictions.parquet")
    per = preds.groupby("condition")["sample_id"].apply(lambda s: tuple(sorted(s)))
    assert per.nunique() == 1 and len(per) == 4
    assert {"p_Black", "p_White"} <= set(preds.columns)  # the one schema of both modalities
    back = AuditResult.read(tmp_path / "run")
    assert back.modality == "text" and len(back.conditions) == 4
    check = back.extras["check"]["explicit"]
    assert check["residual"]["n_mentions"] == 0 and check["original"]["n_notes_with_mentions"] == 180
    payload = (tmp_path / "run" / "result.json").read_text()
    assert "chest pain" not in payload and "n0-0" not in payload  # no note text, no note ids


def test_audit_negative_control_and_errors(tmp_path):
    df = note_table(80, 1, proxy=0.0)
    res = run_text_audit(TextAuditConfig(df, label_col="race", patient_col="subject_id",
                                         levels=("explicit",), collapse="bw", n_boot=200))
    assert res.condition("redact", level="explicit").auc.macro.contains(0.5)
    with pytest.raises(ConfigError, match="levels"):
        TextAuditConfig(df, levels=("all",))


@pytest.fixture(scope="module")
def synthetic_cohort():
    from racelens.shared.synthetic import synthetic_patients

    return synthetic_patients(300, seed=0)


def test_leakage_on_synthetic_notes_with_planted_proxies(synthetic_cohort):
    from racelens.text.check.report import check_redaction
    from racelens.text.redact.redactor import RaceRedactor
    from racelens.text.synthetic import synthetic_notes

    notes = synthetic_notes(synthetic_cohort, proxies=0.9, mention_rate=0.6, seed=0).notes
    notes = notes[notes["race"].isin(["Asian", "Black", "White"])]
    red = [r.text for r in RaceRedactor("explicit").redact_batch(notes["text"])]
    rep = check_redaction(red, labels=notes["race"].tolist(),
                          patient_ids=notes["subject_id"].tolist(), n_boot=200, top_k=10,
                          min_df=3)
    assert rep.residual.n_mentions == 0
    assert rep.leakage.result.auc.macro.ci_low > 0.65
    planted = {"Asian": {"cantonese", "mandarin", "vietnamese", "china", "hepatitis",
                         "thalassemia", "interpreter"},
               "Black": {"haitian", "haiti", "cape", "verde", "sickle", "sarcoidosis", "keloids",
                         "creole"},
               "White": {"ireland", "russian", "poland", "hemochromatosis", "cystic",
                         "fibrosis", "norwegian"}}
    for g, words in planted.items():
        top = [p.ngram for p in rep.proxies if p.group == g][:10]
        assert any(set(t.split()) & words for t in top[:5]), (g, top)


def test_negative_control_on_synthetic_notes(synthetic_cohort):
    from racelens.text.synthetic import synthetic_notes

    notes = synthetic_notes(synthetic_cohort, proxies=0.0, mention_rate=0.5, seed=1).notes
    res = run_text_audit(TextAuditConfig(notes, label_col="race_raw", patient_col="subject_id",
                                         sample_col="note_id", levels=("explicit",),
                                         n_boot=200))
    assert res.condition("redact", level="explicit").auc.macro.contains(0.5)


def test_a_name_in_all_of_a_patients_notes_is_stripped_but_never_listed():
    df = note_table(60, 2, proxy=0.0)  # no planted proxy: the names compete with noise
    named = df[df["subject_id"].isin(range(1000, 1012))]
    # 12 patients with 8 more notes each, all signed with the patient's own made-up name
    extra = pd.DataFrame([{**r, "note_id": f"{r['note_id']}x{k}",
                           "text": f"Seen by zqxname{r['subject_id']} today. {r['text']}"}
                          for k in range(4) for r in named.to_dict("records")])
    df = pd.concat([df, extra], ignore_index=True)
    cfg = dict(label_col="race", patient_col="subject_id", levels=("explicit",), collapse="bw",
               n_boot=20, strip_proxies=30, proxy_step=30)
    res = run_text_audit(TextAuditConfig(df, **cfg))
    sp = res.extras["strip_proxies"]
    assert not any("zqxname" in g for g in sp["removed"])
    assert sp["n_removed"] == 30 and sp["n_unlisted"] == 30 - len(sp["removed"]) >= 3
    # the same n-grams are stripped; with a floor of one patient the names are listed
    loose = run_text_audit(TextAuditConfig(df, min_patients=1, **cfg))
    assert loose.extras["strip_proxies"]["n_removed"] == 30
    assert sum("zqxname" in g for g in loose.extras["strip_proxies"]["removed"]) >= 3
    assert res.conditions[-1].auc == loose.conditions[-1].auc
    with pytest.raises(ConfigError, match="min_patients"):
        TextAuditConfig(df, min_patients=0)


@pytest.mark.parametrize("race", ["WHITE", None])
def test_one_group_or_none_is_a_label_error_naming_the_column(race):
    from racelens.errors import LabelError

    df = note_table(20, 3, proxy=0.0).assign(race=race)
    with pytest.raises(LabelError, match="the table: column 'race' leaves (one group only "
                                         r"\(White\)|no group)"):
        run_text_audit(TextAuditConfig(df, label_col="race", patient_col="subject_id",
                                       levels=("none",), collapse="bw", n_boot=20))


def test_deletion_condition_runs_and_weakens_the_mention_rate_signal(tmp_path):
    """Mention rates that differ by group (Black 0.9, White 0.1) and no proxies: the only race
    signal after redaction is how often a note held a mention. The [RACE] token carries it;
    deletion removes the token, and the signal drops (measured before asserting: macro AUC
    0.684 -> 0.595 with this seed, 0.715 -> 0.638 and 0.654 -> 0.575 with seeds 0 and 2), though
    not to chance: the words around a mention ("identifies as", "Race:") stay."""
    from racelens.shared.report.build import build_report
    from racelens.shared.synthetic import synthetic_patients
    from racelens.text.synthetic import synthetic_notes

    rates = {"Black": 0.9, "White": 0.1, "Asian": 0.5, "Hispanic": 0.5}
    notes = synthetic_notes(synthetic_patients(600, seed=1), proxies=0.0, mention_rate=rates,
                            seed=1).notes
    run = tmp_path / "run"
    res = run_text_audit(TextAuditConfig(notes, label_col="race_raw", patient_col="subject_id",
                                         sample_col="note_id", levels=("none", "explicit"),
                                         replacements=("token", "delete"), n_boot=200, seed=1,
                                         out=run))
    assert [c.condition.label for c in res.conditions] == [
        "original", "redact(level=explicit)", "redact(level=explicit,replacement=delete)"]
    token = res.condition("redact", level="explicit").auc.macro
    deleted = res.condition("redact", level="explicit", replacement="delete")
    assert token.ci_low > 0.6  # the token's rate is a race signal
    assert deleted.auc.macro.estimate < token.estimate - 0.05
    # the deletion condition carries its own redaction check: nothing left to find
    assert deleted.extras["check"]["residual"]["n_mentions"] == 0
    assert deleted.extras["check"]["original"]["n_notes_with_mentions"] > 100
    back = AuditResult.read(run)
    assert back.config["replacements"] == ["token", "delete"]
    assert back.condition("redact", level="explicit", replacement="delete").auc.macro.estimate \
        == deleted.auc.macro.estimate
    preds = pd.read_parquet(run / "predictions.parquet")
    per = preds.groupby("condition")["sample_id"].apply(lambda s: tuple(sorted(s)))
    assert per.nunique() == 1 and len(per) == 3  # paired: the same test notes
    report = build_report([run], figures=False)
    assert {c["condition"] for c in report["redaction_checks"]} == {
        "redact(level=explicit)", "redact(level=explicit,replacement=delete)"}
    with pytest.raises(ConfigError, match="replacements"):
        TextAuditConfig(notes, replacements=("mask",))


def test_one_condition_one_number_in_check_and_audit(tmp_path):
    """The redaction check's leakage AUC for a level equals the text audit's AUC for that level
    on the same table: in memory or streamed, redacted in memory or read from `text redact
    --keep-original` output (one leakage model, one split, one C search)."""
    from racelens.text.check.report import check_redaction
    from racelens.text.check.stream import check_file
    from racelens.text.redact.stream import redact_file

    df = note_table(90, 3, proxy=0.5).iloc[:-2]  # no empty or unlabelled note: same rows everywhere
    src, red = tmp_path / "notes.parquet", tmp_path / "redacted.parquet"
    df.to_parquet(src)
    redact_file(src, red, text_col="text", keep_original="original", progress=False)
    common = dict(text_col="text", label_col="race", patient_col="subject_id",
                  sample_col="note_id", collapse="bw", n_boot=100, seed=2)
    audit = run_text_audit(TextAuditConfig(src, levels=("none", "explicit"), **common))
    given = run_text_audit(TextAuditConfig(red, levels=("none", "explicit"),
                                           original_col="original", **common))
    want = audit.condition("redact", level="explicit").auc.to_dict()
    assert 0.55 < want["macro"]["estimate"] < 0.99  # neither chance nor a named group
    assert given.condition("redact", level="explicit").auc.to_dict() == want
    assert given.condition("original").auc.to_dict() == audit.condition("original").auc.to_dict()
    streamed = check_file(red, text_col="text", label_col="race", patient_col="subject_id",
                          collapse="bw", n_boot=100, seed=2)
    assert streamed.leakage.result.auc.to_dict() == want
    t = pd.read_parquet(red)
    labels = t["race"].map({"BLACK/AFRICAN AMERICAN": "Black", "WHITE": "White"}).tolist()
    mem = check_redaction(t["text"].tolist(), labels=labels, patient_ids=t["subject_id"].tolist(),
                          n_boot=100, seed=2)
    assert mem.leakage.result.auc.to_dict() == want
    # the audit's proxy stripping and the check rank proxies with the one ranker
    assert {p.ngram for p in mem.proxies} & {"sickle", "trait", "lakeside", "cabin",
                                             "sickle trait", "lakeside cabin"}
    with pytest.raises(ConfigError, match="keep-original"):
        run_text_audit(TextAuditConfig(red, levels=("explicit",), original_col="orig", **common))
