"""`text explain` known answers on generated notes with planted proxies (issue 13)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from test_text_models import tiny_bert  # noqa: F401, E402 - the tiny local BERT fixture

from racelens.errors import ConfigError
from racelens.shared.synthetic import synthetic_patients
from racelens.text.explain import ExplainConfig, run_text_explain
from racelens.text.explain.categories import categorize
from racelens.text.explain.placeholder import mention_features, redact_mode, redact_modes
from racelens.text.explain.sections import split_sections
from racelens.text.explain.terms import columns_of, delete_columns, matched_random_terms
from racelens.text.synthetic import SECTION_PROXIES, synthetic_notes

# proxies of one kind only: conditions whose prevalence differs by ancestry
CONDITIONS = {"Asian": ("Known chronic hepatitis B carrier.", "History of alpha thalassemia trait."),
              "Black": ("Known sickle cell trait.", "History of sarcoidosis.", "History of keloids."),
              "White": ("Family history of hemochromatosis.", "Known cystic fibrosis carrier.")}
COLS = dict(label_col="race_raw", patient_col="subject_id", sample_col="note_id")


def _tokens(texts) -> set[str]:
    return {w for t in texts for w in re.findall(r"\w\w+", t.lower())}


@pytest.fixture(scope="module")
def patients():
    return synthetic_patients(250, seed=1)


@pytest.fixture(scope="module")
def planted(patients):
    notes = synthetic_notes(patients, proxies=0.8, proxy_phrases=CONDITIONS, seed=1).notes
    doc = run_text_explain(ExplainConfig(notes, n_boot=50, ks=(10, 20, 50), min_patients=5,
                                         **COLS))
    return notes, doc


def test_terms_are_the_planted_proxies_and_matter(planted, patients):
    notes, doc = planted
    clean = synthetic_notes(patients, proxies=0.0, seed=1).notes["text"]
    words = _tokens(p for ps in CONDITIONS.values() for p in ps) - _tokens(clean)
    top = doc["terms"][:20]
    hits = [t for t in top if set(t["term"].split()) & words]
    assert len(hits) >= 0.8 * len(top), [t["term"] for t in top]
    # planted for the group they are attributed to
    assert all(set(t["term"].split()) & _tokens(CONDITIONS[t["group"]]) for t in hits)
    # exact attributions: contributions + intercept = the model's centred logit
    assert doc["completeness_delta"] < 1e-2
    # the floor: every listed term is in the notes of at least min_patients patients
    assert all(t["patients"] >= 5 for t in doc["terms"])
    assert len(doc["terms"]) >= 100
    # deleting the top 50 lowers the AUC far more than deleting 50 random ones
    k50 = next(d for d in doc["deletion"] if d["k"] == 50)
    assert k50["top"]["macro"]["estimate"] < k50["random"]["macro"]["estimate"] - 0.15
    assert k50["random"]["macro"]["ci_low"] > 0.9
    # the planted category has the largest drop
    drops = {c["name"]: doc["redacted"]["macro"]["estimate"] - c["remove"]["macro"]["estimate"]
             for c in doc["categories"] if c["remove"]}
    assert max(drops, key=drops.get) == "conditions", drops
    assert doc["schema"] == "racelens.explain/1" and doc["modality"] == "text"


def test_original_and_redacted_are_the_audits_numbers(planted):
    from racelens.text.audit import TextAuditConfig, run_text_audit

    notes, doc = planted
    audit = run_text_audit(TextAuditConfig(notes, levels=("none", "explicit"), n_boot=50, **COLS))
    assert doc["original"] == audit.condition("original").auc.to_dict()
    assert doc["redacted"] == audit.condition("redact", level="explicit").auc.to_dict()


def test_section_proxy_and_placeholder_leak(patients, tmp_path):
    notes = synthetic_notes(patients, proxies=0.0, section_proxies=0.8, seed=3,
                            mention_rate={"Black": 0.9, "White": 0.2, "Asian": 0.5}).notes
    doc = run_text_explain(ExplainConfig(notes, n_boot=50, ks=(10,), min_patients=5,
                                         out=tmp_path / "run", **COLS))
    sections = {s["name"]: s for s in doc["sections"] if s["auc"]}
    fam = sections["Family History"]["auc"]["macro"]
    assert fam["ci_low"] > 0.8
    others = [s["auc"]["macro"]["estimate"] for n, s in sections.items()
              if n not in ("Family History", "History of Present Illness", "Social History")]
    assert others and max(others) < fam["ci_low"]  # HPI and social history hold mentions
    # mention rates differ by group: the [RACE] pattern alone is above chance; naming the
    # group in the placeholder leaks it outright; deletion leaves no pattern to read
    pattern = doc["placeholder"]
    assert pattern["token"]["macro"]["ci_low"] > 0.55
    assert pattern["category"]["macro"]["estimate"] > 0.85
    assert pattern["delete"]["macro"]["estimate"] == pytest.approx(0.5)
    assert doc["mention_rate"]["Black"] > doc["mention_rate"]["White"] + 0.4
    payload = (tmp_path / "run" / "explain.json").read_text()
    assert "`explain.json`" in (tmp_path / "run" / "FILES.md").read_text()
    assert json.loads(payload)["sections"] == json.loads(json.dumps(doc["sections"]))
    # aggregates only: no note text, no note id
    assert "Lungs clear to auscultation" not in payload and notes["note_id"][0] not in payload
    assert SECTION_PROXIES["Black"] not in payload
    # the report's "Which words carry race" section draws it (beside the imaging one)
    from racelens.shared.report.build import build_report, render_markdown

    report = build_report([tmp_path / "run"], figures=False)
    sec = next(s for s in report["sections"] if s["key"] == "text_explain")
    assert sec["title"] == "Which words carry race" and len(report["text_explain"]) == 1
    assert "uncle" in report["text_explain"][0]["top_terms"]["Black"]
    md = render_markdown(report)
    assert "Which words carry race" in md and "Family History" in md


def test_two_workers_give_the_same_explain_json(planted, tmp_path):
    # the fits in two spawned worker processes, in whatever order they finish: the same numbers
    notes, doc = planted
    two = run_text_explain(ExplainConfig(notes, n_boot=50, ks=(10, 20, 50), min_patients=5,
                                         workers=2, out=tmp_path / "w2", **COLS))
    assert two["config"].pop("out") and doc["config"]["out"] is None
    assert json.dumps(two, sort_keys=True) == json.dumps({**doc, "config": {
        k: v for k, v in doc["config"].items() if k != "out"}}, sort_keys=True)
    assert json.loads((tmp_path / "w2" / "explain.json").read_text())["placeholder"] == \
        json.loads(json.dumps(doc["placeholder"]))
    with pytest.raises(ConfigError, match="workers"):
        ExplainConfig("x.csv", workers=0)


def test_one_redaction_pass_gives_each_modes_text(patients):
    texts = synthetic_notes(patients, proxies=0.3, seed=4).notes["text"].tolist()[:300]
    # a note that already holds the placeholder, and a deletion that joins two words into a
    # new mention (the deleting redactor widens its spans)
    texts += ["54 yo AA M [RACE] black male", "African Caucasian American pt", "Race: White"]
    for level in ("explicit", "extended"):
        modes = redact_modes(texts, level=level)
        for mode in ("token", "category", "delete"):
            assert modes[mode] == redact_mode(texts, mode, level=level), (level, mode)


def test_negative_control_and_one_mention_everywhere(patients):
    notes = synthetic_notes(patients, proxies=0.0, mention_rate=1.0, seed=2).notes
    doc = run_text_explain(ExplainConfig(notes, n_boot=50, ks=(10,), min_patients=5, **COLS))
    red = doc["redacted"]["macro"]
    assert red["ci_low"] <= 0.5 <= red["ci_high"]
    token = doc["placeholder"]["token"]["macro"]
    assert token["ci_low"] <= 0.5 <= token["ci_high"] or token["estimate"] < 0.58
    assert doc["placeholder"]["category"]["macro"]["estimate"] > 0.95  # the negative example


def test_pieces():
    assert split_sections("Chief Complaint:\ncough\nRace: [RACE].\nFOO BAR:\nx") == [
        ("Chief Complaint", "cough\nRace: [RACE].\n"), ("Foo Bar", "x")]
    assert split_sections("") == [] and split_sections("no heading")[0][0] == "(preamble)"
    assert categorize(["mandarin", "born in", "haiti", "sickle cell", "mr jones", "lives alone",
                       "cough", "haitian"]) == [
        "language", "birthplace", "places", "conditions", "names", "social history", "other",
        "national origin"]
    assert redact_mode(["54 yo AA M. Race: White."], "category") == [
        "54 yo [RACE_BLACK] M. Race: [RACE_WHITE]."]
    assert redact_mode(["54 yo AA M."], "delete") == ["54 yo M."]
    x, names = mention_features(["a [RACE] b [RACE]", "none"])
    assert names == ["n_placeholders", "first_position", "last_position", "n_[RACE]"]
    assert x[:, 0].tolist() == [2, 0] and x[1, 1] == -1
    vocab = ["aa", "aa bb", "bb", "cc"]
    assert columns_of(["aa"], vocab).tolist() == [0, 1]
    assert columns_of(["aa bb"], vocab).tolist() == [1]
    import scipy.sparse as sp

    X = sp.csr_matrix(np.array([[1.0, 1.0, 1.0, 1.0]]) / 2)
    assert np.allclose(delete_columns(X, np.array([0, 1])).toarray(),
                       [[0, 0, 2 ** -0.5, 2 ** -0.5]])
    picks = matched_random_terms(["aa"], vocab, np.array([5, 1, 4, 6]), seed=0, window=1)
    assert len(picks) == 1 and picks[0] in ("cc", "bb")
    with pytest.raises(ConfigError, match="level"):
        ExplainConfig("x.csv", level="all")
    with pytest.raises(ConfigError, match="model"):
        ExplainConfig("x.csv", model="embeddings:/m")


def test_transformer_terms_by_integrated_gradients(tiny_bert):  # noqa: F811 - the fixture
    import pandas as pd
    from test_text_models import CUES, notes

    texts, groups = notes(120, 3)
    df = pd.DataFrame({"text": texts, "race": groups, "patient_id": range(len(texts))})
    doc = run_text_explain(ExplainConfig(
        df, model=f"transformer:{tiny_bert}", collapse="bw", min_patients=5, n_boot=20, ks=(10,),
        model_params={"max_length": 32, "stride": 4, "max_chunks": 2, "epochs": 2, "lr": 3e-3,
                      "batch_size": 16, "device": "cpu"}))
    assert doc["method"].startswith("captum LayerIntegratedGradients")
    assert doc["completeness_delta"] < 1e-2
    top = {g: [t["term"] for t in doc["terms"] if t["group"] == g][:5] for g in ("Black", "White")}
    assert set(top["Black"]) & set(CUES["Black"].split()), top
    assert set(top["White"]) & set(CUES["White"].split()), top


def test_fit_hands_back_the_models_own_matrix(patients, tmp_path):
    # the TF-IDF matrix taken from the redacted fit's own vectorising equals a second transform
    # bit for bit (the terms and every deletion read it), in memory and through a file
    from racelens.shared.results import Condition
    from racelens.text.check.leakage import leakage_split
    from racelens.text.explain.stages import Common, Ref, fit_texts

    notes = synthetic_notes(patients, proxies=0.3, seed=5).notes
    texts = redact_modes(notes["text"].tolist())["token"]
    y = notes["race_raw"].astype(str).to_numpy(object)
    pids = notes["subject_id"].to_numpy(object)
    split = leakage_split(pids, y, seed=0)
    common = Common(y, pids, split, tuple(sorted(set(y))), "tfidf", None, 0, 20)
    cond = Condition("redact", {"level": "explicit"})
    plain = fit_texts(common, Ref(texts), cond, keep_model=True)
    for features in (True, str(tmp_path / "x.pkl")):
        fit = fit_texts(common, Ref(texts), cond, keep_model=True, features=features)
        assert fit["auc"] == plain["auc"]
        parts = fit["X"].get()
        X, ref = parts.full(), fit["model"].transform(texts)
        for name, rows in parts.rows.items():  # each split's part: its notes' rows
            assert parts.part(rows) is parts.parts[name]
            assert np.array_equal(parts.part(rows).data, ref[rows].data)
        assert type(X) is type(ref) and X.dtype == ref.dtype and X.shape == ref.shape
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(X, part), getattr(ref, part))


def _scipy_delete_columns(X, cols):
    # the deletion as scipy's operators compute it (what delete_columns reproduces bit for bit)
    import scipy.sparse as sp

    keep = np.ones(X.shape[1])
    keep[cols] = 0.0
    out = sp.csr_matrix(X @ sp.diags(keep))
    norms = np.sqrt(np.asarray(out.multiply(out).sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    out = sp.csr_matrix(sp.diags(scale) @ out)
    out.eliminate_zeros()
    return out


@pytest.mark.parametrize("block", [4096, 7, 1])
def test_delete_columns_equals_scipys_operators_bit_for_bit(patients, block, monkeypatch):
    # a real TF-IDF matrix (float32, sorted indices, long rows) and a random one with empty
    # rows, explicit zeros and rows whose every column is deleted; in one block of rows and
    # in many (blocks of 7 and of 1 row)
    import scipy.sparse as sp

    from racelens.text.explain import terms
    from racelens.text.models.tfidf import make_vectorizer

    monkeypatch.setattr(terms, "DELETE_BLOCK", block)

    notes = synthetic_notes(patients, proxies=0.3, seed=7).notes["text"].tolist()
    X = make_vectorizer().fit_transform(notes)
    X.sort_indices()
    rng = np.random.default_rng(0)
    R = sp.random(300, 400, density=0.2, format="csr", dtype=np.float32, random_state=1)
    R.data[::17] = 0.0
    R = sp.csr_matrix(R.toarray() * (rng.random((300, 1)) > 0.1))  # some empty rows
    R.data[::29] = 0.0  # explicit zeros kept in the structure
    R.sort_indices()
    for M in (X, R):
        n = M.shape[1]
        for cols in (np.array([], dtype=int), rng.choice(n, 5, replace=False),
                     np.arange(0, n, 3), np.arange(n // 2), np.arange(n)):
            want, got = _scipy_delete_columns(M, cols), delete_columns(M, cols)
            assert got.dtype == want.dtype == np.float64 and got.shape == want.shape
            for part in ("indptr", "indices", "data"):
                assert np.array_equal(getattr(got, part), getattr(want, part))
            rows = np.flatnonzero(rng.random(M.shape[0]) < 0.5)
            part_rows = delete_columns(M[rows], cols)
            assert np.array_equal(part_rows.data, want[rows].data)
            assert np.array_equal(part_rows.indices, want[rows].indices)
