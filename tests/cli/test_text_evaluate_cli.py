"""``racelens text evaluate`` end to end through the root CLI, and its report section."""

from __future__ import annotations

import json

import pytest

from racelens.cli.main import main

GOLD = [
    {"id": "a", "text": "44F Black w/ asthma", "spans": [[4, 9, "black"]]},
    {"id": "b", "text": "Race: Caucasian. Dr. White saw her.", "spans": [[6, 15, "white"]]},
    {"id": "c", "text": "Her mother is Blaxican.", "spans": [[14, 22, "race"]]},
]


def test_cli_evaluates_writes_counts_and_a_per_sample_misses_file(tmp_path, capsys) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(g) + "\n" for g in GOLD), encoding="utf-8")
    out = tmp_path / "run"
    main(["text", "evaluate", "--gold", str(gold), "--format", "jsonl", "--level", "explicit",
          "--out", str(out)])
    printed = capsys.readouterr().out
    assert "3 samples, 3 gold spans, 2 predicted: precision 1.000, recall 0.667, F2 0.714" in printed
    assert "Blaxican" not in printed and "asthma" not in printed
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["schema"] == "racelens.evaluation/1" and summary["n_misses"] == 1
    assert "Blaxican" not in json.dumps(summary)
    misses = [json.loads(x) for x in (out / "evaluation_misses.jsonl").read_text().splitlines()]
    assert misses == [{"kind": "miss", "sample": "c", "start": 14, "end": 22, "category": "race",
                       "text": "Blaxican"}]
    files = (out / "FILES.md").read_text()
    assert "`evaluation.json`" in files and "evaluation_misses.jsonl" in files


def test_report_shows_an_evaluation_beside_a_result(tmp_path, capsys, helpers) -> None:
    from racelens.text.evaluate import evaluate_redactor, write_evaluation
    from racelens.text.evaluate.gold import GoldCorpus, GoldSample, GoldSpan

    run = tmp_path / "run"
    helpers("shared/_report_fixtures.py").text_result().write(run / "result.json")
    corpus = GoldCorpus("jsonl", "-", (GoldSample("a", "72F black w/ GERD", (GoldSpan(4, 9, "black"),)),))
    write_evaluation(evaluate_redactor(corpus), run)
    out = tmp_path / "report.html"
    main(["report", str(run), "--out", str(out)])
    data = json.loads(out.with_suffix(".json").read_text())
    (section,) = [s for s in data["sections"] if s["key"] == "redaction_evaluation"]
    facts = dict(section["cards"][0]["facts"])
    assert facts["recall"] == "1.000" and facts["gold spans"] == "1"
    assert data["redaction_evaluation"][0]["overall"]["n_matched"] == 1
    assert "Redactor on annotated gold" in out.read_text()


@pytest.mark.parametrize("args,message", [
    (["--format", "conll"], "conll"),
    (["--format", "brat"], "BRAT"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys, args, message) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOLD[0]) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["text", "evaluate", "--gold", str(gold), "--out", str(tmp_path / "o"), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
