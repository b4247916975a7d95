"""The redactor scored on annotated gold: readers for JSONL, BRAT and C-REACT, span scores."""

from __future__ import annotations

import json

import pytest

from racelens.errors import ConfigError, DataError
from racelens.text.evaluate import evaluate_redactor, read_gold

NOTES = [
    ("n1", "72F black w/ GERD. WBC 12, white count down.", [(4, 9, "black")]),
    ("n2", "Race: White\nSpeaks Cantonese at home.", [(6, 11, "White"), (19, 28, "Language")]),
    ("n3", "Pt is a 45 yo Hispanic male; AA meetings weekly.", [(14, 22, "hispanic_latino")]),
    # a miss: a nickname the lexicon does not know
    ("n4", "Self-described Blaxican teen.", [(15, 23, "Race")]),
]


def _jsonl(tmp_path, rows=NOTES):
    p = tmp_path / "gold.jsonl"
    p.write_text("".join(json.dumps({"id": i, "text": t, "spans": [list(s) for s in sp]}) + "\n"
                         for i, t, sp in rows), encoding="utf-8")
    return p


def _brat(tmp_path):
    d = tmp_path / "brat"
    d.mkdir()
    for i, text, spans in NOTES:
        (d / f"{i}.txt").write_text(text, encoding="utf-8")
        lines = [f"T{k}\t{c} {s} {e}\t{text[s:e]}" for k, (s, e, c) in enumerate(spans, start=1)]
        lines.append("#1\tAnnotatorNotes T1\tchecked")
        (d / f"{i}.ann").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def _creact(tmp_path):
    d = tmp_path / "collected_data"
    d.mkdir()
    rows = []
    for k, (_, text, spans) in enumerate(NOTES):
        rows.append({"sentence_id": 100 + k, "text_assignments": text,
                     "spans": [{"label": c, "start": s, "end": e} for s, e, c in spans]})
    rows[0]["spans"].append({"label": "Race"})  # an indicator without offsets
    (d / "indicators_assignments_df.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return d


@pytest.mark.parametrize("fmt,make", [("jsonl", _jsonl), ("brat", _brat), ("creact", _creact)])
def test_readers_give_the_same_samples(tmp_path, fmt, make) -> None:
    corpus = read_gold(make(tmp_path), fmt)
    assert len(corpus.samples) == 4 and corpus.n_spans == 5
    texts = sorted(s.text for s in corpus.samples)
    assert texts == sorted(t for _, t, _ in NOTES)
    by_text = {s.text: [(g.start, g.end, g.category) for g in s.spans] for s in corpus.samples}
    assert by_text[NOTES[1][1]] == [(6, 11, "White"), (19, 28, "Language")]
    expected_unused = {"brat": {"brat # annotation (not a text span)": 4},
                       "creact": {"indicator without offsets (unlocated)": 1}, "jsonl": {}}
    assert dict(corpus.unused) == expected_unused[fmt]


def test_scores_per_category_and_misses(tmp_path) -> None:
    ev = evaluate_redactor(read_gold(_jsonl(tmp_path), "jsonl"), level="explicit")
    s = ev.summary
    assert s["schema"] == "racelens.evaluation/1"
    # "Language" is an extended category: not scored at the explicit level, counted
    assert s["excluded_by_level"] == {"language": 1}
    o = s["overall"]
    assert (o["n_gold"], o["n_predicted"], o["n_matched"]) == (4, 3, 3)
    assert o["precision"] == 1.0 and o["recall"] == 0.75
    assert o["f2"] == pytest.approx(5 * 0.75 / (4 + 0.75))
    # racelens categories get precision too; the annotator's own labels ("race") recall only
    assert s["by_category"]["black"] == {"n_gold": 1, "n_predicted": 1, "n_matched": 1,
                                         "precision": 1.0, "recall": 1.0, "f2": 1.0}
    assert s["by_category"]["race"]["recall"] == 0.0 and s["by_category"]["race"]["precision"] is None
    assert s["by_category"]["white"]["recall"] == 1.0
    assert [(m.kind, m.sample, m.category, m.text) for m in ev.misses] == [
        ("miss", "n4", "race", "Blaxican")]
    assert "Blaxican" not in json.dumps(s)  # the aggregate holds counts, not text


def test_extended_level_scores_language(tmp_path) -> None:
    ev = evaluate_redactor(read_gold(_jsonl(tmp_path), "jsonl"), level="extended")
    assert ev.summary["excluded_by_level"] == {}
    assert ev.summary["by_category"]["language"]["recall"] == 1.0


@pytest.mark.parametrize("content,message", [
    ('{"id": 1, "text": "abc", "spans": [[0, 9, "x"]]}\n', "outside its text of 3 characters"),
    ('{"id": 1, "spans": []}\n', "no text"),
    ("not json\n", "line 1 is not JSON"),
    ('{"id": 1, "text": "abc", "spans": [[0]]}\n', r"is not \[start, end, category\]"),
])
def test_bad_jsonl_is_one_clear_error(tmp_path, content, message) -> None:
    p = tmp_path / "g.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_gold(p, "jsonl")
    assert str(p) in str(info.value)


def test_bad_brat_and_format(tmp_path) -> None:
    (tmp_path / "a.ann").write_text("T1\tRace 0 3\tabc\n", encoding="utf-8")
    with pytest.raises(DataError, match="needs both .txt and .ann"):
        read_gold(tmp_path / "a.ann", "brat")
    (tmp_path / "a.txt").write_text("abc", encoding="utf-8")
    assert read_gold(tmp_path / "a.txt", "brat").n_spans == 1
    (tmp_path / "a.ann").write_text("T1\tRace 0\tabc\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1 has fragment"):
        read_gold(tmp_path, "brat")
    with pytest.raises(ConfigError, match="unknown gold format"):
        read_gold(tmp_path, "conll")
    with pytest.raises(DataError, match="no indicators_assignments_df.jsonl"):
        read_gold(tmp_path, "creact")


def test_brat_keeps_crlf_offsets_and_fragments(tmp_path) -> None:
    text = "Race:\r\nBlack or\r\nAfrican American"
    (tmp_path / "x.txt").write_bytes(text.encode())
    (tmp_path / "x.ann").write_text("T1\tRace 7 15;17 33\tBlack or African American\n")
    (sample,) = read_gold(tmp_path, "brat").samples
    assert [text[g.start:g.end] for g in sample.spans] == ["Black or", "African American"]
