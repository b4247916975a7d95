"""Redaction checks: the independent scan, span scores, mention rates, leakage and proxies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from racelens.errors import ConfigError, DataError
from racelens.text.check.report import check_redaction, mention_stats
from racelens.text.check.scan import residual_terms, scan_residual
from racelens.text.check.spaneval import f_beta, score_spans

# ---------------------------------------------------------------------------- independent scan

SCAN_CASES = [
    ("54 yo AA M with CP", [(6, 8, "aa", "race")]),
    ("62 y/o white female", [(7, 12, "white", "race")]),
    ("71 year old black man", [(12, 17, "black", "race")]),
    ("45 yo WM presents", [(6, 8, "wm", "race")]),
    ("54y/o B/F", [(6, 9, "b/f", "race")]),
    ("61 yo W F", [(6, 7, "w", "race")]),
    ("61 y/o B M", [(7, 8, "b", "race")]),
    ("54 yo A/M with AF", [(6, 9, "a/m", "race")]),
    ("33 y/o H/F", [(7, 10, "h/f", "ethnicity")]),
    ("Race:\nWhite", [(6, 11, "white", "race")]),
    ("Race: White.", [(6, 11, "white", "race")]),
    ("Ethnicity: non-Hispanic", [(11, 23, "non hispanic", "ethnicity")]),
    ("African-American woman", [(0, 16, "african american", "race")]),
    ("pt is Caucasian", [(6, 15, "caucasian", "race")]),
    ("Latina, Asian-Indian", [(0, 6, "latina", "ethnicity"), (8, 20, "asian indian", "race")]),
    ("a black woman", [(2, 7, "black", "race")]),
    ("Native Hawaiian or Pacific Islander",
     [(0, 15, "native hawaiian", "race"), (19, 35, "pacific islander", "race")]),
]

NEGATIVES = [
    "white blood cell count 12", "WBC 12.1", "gray-white differentiation", "black stools x2",
    "black tarry stool", "Mr. Black and Dr. White", "AA meeting on Tuesdays", "BM x2 today",
    "3 BF", "[RACE] M with CP", "54 yo [RACE] M", "white matter changes", "blackout spell",
    "AF on apixaban", "seen at 10 AM", "HF with reduced EF", "45 yo a f/u visit", "61 yo w f",
]


@pytest.mark.parametrize(("text", "expected"), SCAN_CASES)
def test_scan_finds_explicit_terms(text, expected):
    assert scan_residual(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_scan_leaves_hard_negatives(text):
    assert scan_residual(text) == []


def test_scan_extended_adds_origin_and_language():
    text = "Haitian man, speaks Spanish, Cantonese interpreter"
    assert scan_residual(text) == []
    assert scan_residual(text, "extended") == [
        (0, 7, "haitian", "national_origin"), (20, 27, "spanish", "language"),
        (29, 38, "cantonese", "language")]


def test_scan_rejects_unknown_level_and_tolerates_non_text():
    with pytest.raises(ConfigError, match="explicit"):
        scan_residual("x", "none")
    assert scan_residual(None) == []  # type: ignore[arg-type]


def test_scan_is_independent_of_the_redactor():
    import ast
    from pathlib import Path

    import racelens.text.check.scan as scan

    tree = ast.parse(Path(scan.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and m.startswith("racelens.text") for m in imported), imported


def test_residual_terms_counts():
    assert residual_terms(["Caucasian M", "caucasian F, Hispanic", "none"]) == {
        "caucasian": 2, "hispanic": 1}


# ---------------------------------------------------------------------------- span scores

def test_span_scores_exact():
    gold = [[(0, 5), (10, 15)], [{"start": 3, "end": 8}], []]
    pred = [[(0, 5)], [(4, 8)], [(1, 2)]]  # iou 4/5 matches; (1, 2) is a false hit
    s = score_spans(gold, pred)
    assert (s.n_gold, s.n_predicted, s.n_matched) == (3, 3, 2)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    assert s.f2 == pytest.approx(f_beta(2 / 3, 2 / 3)) == pytest.approx(2 / 3)
    assert s.misses == ((0, 10, 15),) and s.false_hits == ((2, 1, 2),)


def test_span_overlap_threshold_and_one_to_one():
    # one long prediction over two gold spans matches only one of them
    s = score_spans([[(0, 4), (5, 8)]], [[(0, 9)]], overlap_threshold=0.3)  # iou 4/9 and 3/9
    assert s.n_matched == 1 and s.misses == ((0, 5, 8),)
    assert score_spans([[(0, 4), (5, 8)]], [[(0, 9)]], overlap_threshold=0.5).n_matched == 0
    assert f_beta(0.5, 1.0) == pytest.approx(5 * 0.5 / (4 * 0.5 + 1))


def test_span_errors():
    with pytest.raises(DataError, match="one list of spans per note"):
        score_spans([[]], [[], []])
    with pytest.raises(ConfigError):
        score_spans([[]], [[]], overlap_threshold=0)
    with pytest.raises(DataError, match="valid character range"):
        score_spans([[(5, 2)]], [[]])


# ---------------------------------------------------------------------------- generated notes

FILLER = ["presents with chest pain", "denies fever or chills", "history of hypertension",
          "on metformin for diabetes", "lungs clear bilaterally", "abdomen soft nontender",
          "follow up in clinic", "wbc 9.1 hgb 12.3", "ct head negative", "ambulating well"]
PROXIES = {"Asian": "cantonese interpreter", "Black": "sickle trait", "White": "lives lakeside"}


def make_notes(n_patients: int, seed: int, *, proxies: bool, explicit: bool):
    """Notes with planted proxies and explicit mentions; gold spans and a perfect redaction."""
    rng = np.random.default_rng(seed)
    groups = np.array(["Asian", "Black", "White"])
    words = {"Asian": "Asian", "Black": "African American", "White": "Caucasian"}
    orig, red, gold, race, pid = [], [], [], [], []
    for p in range(n_patients):
        g = str(groups[p % 3])
        for _ in range(int(rng.integers(1, 3))):
            head = f"{int(rng.integers(20, 90))} yo "
            spans = []
            if explicit and rng.random() < 0.6:
                spans = [(len(head), len(head) + len(words[g]))]
                head += words[g] + " "
            body = list(rng.choice(FILLER, size=4, replace=False))
            if proxies and rng.random() < 0.7:
                body.insert(int(rng.integers(0, 4)), PROXIES[g])
            text = head + "M " + ". ".join(body) + "."
            r = text if not spans else text[:spans[0][0]] + "[RACE]" + text[spans[0][1]:]
            orig.append(text)
            red.append(r)
            gold.append(spans)
            race.append(g)
            pid.append(f"p{p}")
    return orig, red, gold, race, pid


def test_mention_stats_per_group_exact():
    texts = ["Caucasian M", "Hispanic F, Caucasian", "nothing", "Asian M"]
    labels = np.array(["White", "White", "Black", "Asian"], dtype=object)
    st = mention_stats(texts, labels)
    assert (st.n_notes, st.n_mentions, st.n_notes_with_mentions) == (4, 4, 3)
    assert st.per_1000_notes == 1000.0
    assert st.terms == {"caucasian": 2, "asian": 1, "hispanic": 1}
    assert st.categories == {"ethnicity": 1, "race": 3}
    assert st.per_group["White"]["per_1000_notes"] == 1500.0
    assert st.per_group["Black"]["share_notes_with_mentions"] == 0.0


def test_check_residual_and_spans_without_leakage():
    orig, red, gold, race, _ = make_notes(30, 0, proxies=False, explicit=True)
    red_missed = list(red)
    red_missed[0] = orig[0]  # one note left unredacted
    pred = list(gold)
    pred[0] = []
    rep = check_redaction(red_missed, original_texts=orig, labels=race, gold_spans=gold,
                          predicted_spans=pred, leakage=False)
    n_gold = sum(map(len, gold))
    assert rep.residual.n_mentions == len(gold[0])
    assert rep.spans.recall == pytest.approx((n_gold - len(gold[0])) / n_gold)
    assert rep.spans.precision == 1.0
    assert rep.original.n_mentions == n_gold
    assert rep.leakage is None
    with pytest.raises(ConfigError, match="predicted_spans or original_texts"):
        check_redaction(red, gold_spans=gold)


def test_leakage_with_planted_proxies():
    orig, red, gold, race, pid = make_notes(240, 1, proxies=True, explicit=True)
    rep = check_redaction(red, original_texts=orig, labels=race, patient_ids=pid,
                          gold_spans=gold, predicted_spans=gold, n_boot=200, top_k=5)
    assert rep.residual.n_mentions == 0
    assert rep.spans.f2 == 1.0
    macro = rep.leakage.result.auc.macro
    assert macro.ci_low > 0.7
    assert rep.leakage.result.p_value_vs_chance < 1e-6
    for g, phrase in PROXIES.items():
        top = [p.ngram for p in rep.proxies if p.group == g][:5]
        assert phrase in top or any(w in top for w in phrase.split()), (g, top)
        hit = next(p for p in rep.proxies if p.group == g and p.ngram in phrase)
        assert hit.doc_freq[g] > 0.5 > max(v for h, v in hit.doc_freq.items() if h != g)
    # aggregates only: no sentence of any note in the report
    payload = rep.to_json()
    assert "chest pain" not in payload and json.loads(payload)["n_notes"] == len(red)
    assert "Leakage" in rep.summary() and len(rep.summary().splitlines()) < 25


def test_leakage_negative_control_contains_chance():
    _, red, _, race, pid = make_notes(240, 2, proxies=False, explicit=False)
    rep = check_redaction(red, labels=race, patient_ids=pid, n_boot=200)
    assert rep.leakage.result.auc.macro.contains(0.5)
    assert rep.residual.n_mentions == 0


def test_check_with_the_real_redactor_on_originals():
    from racelens.text.redact.redactor import RaceRedactor

    orig, _, gold, race, pid = make_notes(40, 3, proxies=False, explicit=True)
    red = [r.text for r in RaceRedactor().redact_batch(orig)]
    rep = check_redaction(red, original_texts=orig, labels=race, patient_ids=pid,
                          gold_spans=gold, leakage=False)
    assert rep.residual.n_mentions == 0
    assert rep.spans.recall == 1.0 and rep.spans.precision == 1.0
    assert rep.original.n_mentions == sum(map(len, gold))


# ----------------------------------------------- patient floor for proxies, one group, streaming


def _with_named_patients(n_named: int, n_notes: int):
    """make_notes plus ``n_named`` patients whose every note carries the same made-up name."""
    orig, red, gold, race, pid = make_notes(240, 1, proxies=True, explicit=True)
    for i in range(n_named):
        for k in range(n_notes):
            red.append(f"Patient name zqxname{i} Smith. " + red[(7 * i + k) % 240])
            race.append("Black")
            pid.append(f"named{i}")
    return red, race, pid


def test_an_identifier_in_all_of_a_patients_notes_is_never_a_proxy():
    from racelens.text.check.report import patient_doc_freq

    red, race, pid = _with_named_patients(10, 8)
    rep = check_redaction(red, labels=race, patient_ids=pid, n_boot=50, top_k=50)
    assert rep.proxies and all(p.n_patients >= 10 for p in rep.proxies)
    assert not any("zqxname" in p.ngram for p in rep.proxies)
    assert "zqxname" not in rep.to_json() and "zqxname" not in rep.summary()
    # the floor is what removes them: with a floor of one patient a name is reported
    loose = check_redaction(red, labels=race, patient_ids=pid, n_boot=50, top_k=50,
                            min_patients=1)
    assert any("zqxname" in p.ngram for p in loose.proxies)
    import scipy.sparse as sp

    X = sp.csr_matrix(np.array([[1, 0, 2], [3, 0, 0], [0, 1, 1], [0, 0, 1]]))
    assert patient_doc_freq(X, ["a", "a", "b", "c"]).tolist() == [1, 1, 3]


def test_one_group_leakage_is_a_note_not_a_crash():
    _, red, _, _, pid = make_notes(60, 4, proxies=False, explicit=False)
    rep = check_redaction(red, labels=["White"] * len(red), patient_ids=pid, n_boot=20)
    assert rep.leakage is None and rep.proxies == ()
    assert any("one group only" in n for n in rep.notes)


def test_span_scores_of_batches_combine_to_the_whole():
    from racelens.text.check.spaneval import combine_span_scores

    gold = [[(0, 5)], [(2, 4), (10, 12)], [], [(1, 3)]]
    pred = [[(0, 5)], [(2, 4)], [(7, 9)], []]
    whole = score_spans(gold, pred)
    parts = [score_spans(gold[:3], pred[:3]), score_spans(gold[3:], pred[3:], first_index=3)]
    assert combine_span_scores(parts, 0.5) == whole
    assert whole.misses == ((1, 10, 12), (3, 1, 3)) and whole.false_hits == ((2, 7, 9),)


def test_check_file_in_chunks_equals_the_in_memory_check(tmp_path):
    import pandas as pd

    from racelens.text.check.stream import check_file

    orig, red, gold, race, pid = make_notes(120, 5, proxies=True, explicit=True)
    red[3] = orig[3]  # one residual mention
    raw = {"Asian": "ASIAN", "Black": "BLACK/AFRICAN AMERICAN", "White": "WHITE"}
    df = pd.DataFrame({"text": red, "orig": orig, "race": [raw[g] for g in race], "pid": pid})
    df.loc[5, "race"] = None
    df.to_csv(tmp_path / "notes.csv", index=False)
    labels = [None if i == 5 else g for i, g in enumerate(race)]
    mem = check_redaction(red, original_texts=orig, labels=labels, patient_ids=pid,
                          gold_spans=gold, n_boot=50)
    got = check_file(tmp_path / "notes.csv", text_col="text", label_col="race",
                     patient_col="pid", original_col="orig", gold_spans=gold, n_boot=50,
                     chunk_rows=17)
    assert got.residual == mem.residual and got.residual.n_mentions == 1
    assert got.original == mem.original and got.spans == mem.spans
    assert got.leakage.to_dict() == mem.leakage.to_dict() and got.proxies == mem.proxies
    assert got.leakage_sample == {"n_notes": len(red) - 1, "n_patients": 120,
                                  "n_notes_labelled": len(red) - 1}
    assert got.notes == mem.notes == ("1 notes without a label left out of the leakage probe",)


def test_leakage_sample_is_whole_patients_bounded_and_order_free():
    from racelens.text.check.stream import PatientSample

    rng = np.random.default_rng(0)
    rows = [(i, f"t{i}", "A", f"p{int(rng.integers(0, 50))}") for i in range(300)]

    def take(order, max_notes=60, seed=3):
        s = PatientSample(max_notes, seed)
        for r in order:
            s.add(*r)
        return s.arrays()

    texts, _, pids = take(rows)
    again, _, _ = take(rows[::-1])
    assert texts == again and 0 < len(texts) <= 60  # same sample whatever the row order
    counts = {p: sum(r[3] == p for r in rows) for p in set(pids)}
    assert len(texts) == sum(counts.values())  # every kept patient with all its notes
    # the kept patients are a prefix of all patients in hash order, and the next did not fit
    s = PatientSample(60, 3)
    order = sorted({r[3] for r in rows}, key=s._hash)
    kept = len(counts)
    assert set(order[:kept]) == set(counts)
    nxt = sum(r[3] == order[kept] for r in rows)
    assert len(texts) + nxt > 60
    assert take(rows, seed=4)[0] != texts  # the seed picks the patients


def test_check_file_refuses_invalid_utf8_but_keeps_a_real_replacement_char(tmp_path):
    from racelens.text.check.stream import check_file

    good = "text,race\n\"caf\ufffd note, AA M\",WHITE\nplain note,BLACK\n".encode()
    (tmp_path / "ok.csv").write_bytes(good)
    assert check_file(tmp_path / "ok.csv").n_notes == 2
    (tmp_path / "bad.csv").write_bytes(good.replace(b"plain", b"pl\xffin"))
    with pytest.raises(DataError, match=r"bad\.csv: not valid utf-8"):
        check_file(tmp_path / "bad.csv")
    with pytest.raises(DataError, match=r"missing column\(s\) \['note'\]"):
        check_file(tmp_path / "ok.csv", text_col="note")
