"""``racelens text redact`` end to end through the root CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from racelens.cli.main import main


def test_cli_redacts_and_prints_aggregates_only(tmp_path, capsys) -> None:
    src = tmp_path / "notes.csv"
    pd.DataFrame({"note_id": ["a", "b", "c"],
                  "text": ["67 yo white female", "speaks Spanish; born in Haiti", "WBC 12"]}
                 ).to_csv(src, index=False)
    out, spans = tmp_path / "red.parquet", tmp_path / "spans.jsonl"
    main(["text", "redact", "--input", str(src), "--text-col", "text", "--out", str(out),
          "--level", "extended", "--spans", str(spans), "--id-col", "note_id",
          "--keep-original", "original", "--chunk-rows", "2", "--no-progress"])
    printed = capsys.readouterr().out
    assert "rows: 3  notes with mentions: 2  spans: 3  skipped (empty/missing): 0" in printed
    assert "by category: birthplace=1, language=1, white=1" in printed
    assert "female" not in printed and "Spanish" not in printed
    got = pd.read_parquet(out)
    assert list(got["text"]) == ["67 yo [RACE] female", "speaks [RACE]; born in [RACE]", "WBC 12"]
    assert list(got["original"])[0] == "67 yo white female"
    assert [json.loads(x)["term"] for x in spans.read_text().splitlines()] == ["white", "Spanish", "Haiti"]


@pytest.mark.parametrize("name", ["r.csv", "r.csv.gz", "r.jsonl", "r.parquet"])
def test_cli_output_follows_its_suffix(tmp_path, capsys, name) -> None:
    from racelens.shared.tables import read_table

    src = tmp_path / "notes.jsonl"
    pd.DataFrame({"text": ["67 yo white female", "WBC 12", "black stools"]}).to_json(
        src, orient="records", lines=True)
    out = tmp_path / name
    main(["text", "redact", "-i", str(src), "-o", str(out), "--chunk-rows", "2", "--no-progress"])
    assert (out.read_bytes()[:4] == b"PAR1") == name.endswith(".parquet")
    assert list(read_table(out)["text"]) == ["67 yo [RACE] female", "WBC 12", "black stools"]


def test_cli_refuses_an_output_of_unknown_format(tmp_path, capsys) -> None:
    src = tmp_path / "notes.csv"
    pd.DataFrame({"text": ["x"]}).to_csv(src, index=False)
    with pytest.raises(SystemExit) as exc:
        main(["text", "redact", "-i", str(src), "-o", str(tmp_path / "r.txt"), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "r.txt: cannot tell the table format from the name" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv"]


def test_cli_missing_column_is_one_line_error(tmp_path, capsys) -> None:
    src = tmp_path / "notes.csv"
    pd.DataFrame({"body": ["x"]}).to_csv(src, index=False)
    with pytest.raises(SystemExit) as exc:
        main(["text", "redact", "--input", str(src), "--out", str(tmp_path / "o.parquet"),
              "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column 'text'" in err[0]


def test_cli_resume_is_for_the_local_engine_only(tmp_path, capsys) -> None:
    src = tmp_path / "notes.csv"
    pd.DataFrame({"text": ["61 yo W F", "WBC 12"]}).to_csv(src, index=False)
    out = tmp_path / "o.parquet"
    with pytest.raises(SystemExit) as exc:
        main(["text", "redact", "-i", str(src), "-o", str(out), "--engine", "spark", "--resume",
              "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume applies to the local engine only" in err[0]
    assert not out.exists()
    # locally, --resume with nothing to resume is a plain run
    main(["text", "redact", "-i", str(src), "-o", str(out), "--resume", "--no-progress"])
    assert "rows: 2  notes with mentions: 1  spans: 1" in capsys.readouterr().out
    assert list(pd.read_parquet(out)["text"]) == ["61 yo [RACE] F", "WBC 12"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv", "o.parquet"]


def test_cli_delete_and_empty_replacement_delete_the_mentions(tmp_path, capsys) -> None:
    src = tmp_path / "notes.csv"
    pd.DataFrame({"text": ["54 yo AA M with cp", "Race: White\nSex: F", "WBC 12"]}).to_csv(
        src, index=False)
    outs = []
    for i, flags in enumerate((["--delete"], ["--replacement", ""])):
        out = tmp_path / f"o{i}.parquet"
        main(["text", "redact", "-i", str(src), "-o", str(out), "--no-progress", *flags])
        assert "rows: 3  notes with mentions: 2  spans: 2" in capsys.readouterr().out
        outs.append(list(pd.read_parquet(out)["text"]))
    assert outs[0] == outs[1] == ["54 yo M with cp", "Race: \nSex: F", "WBC 12"]
    with pytest.raises(SystemExit) as exc:
        main(["text", "redact", "-i", str(src), "-o", str(tmp_path / "x.parquet"),
              "--no-progress", "--delete", "--replacement", "<R>"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "contradict" in err[0]
    # the default token named explicitly contradicts --delete too (it was compared as a literal)
    with pytest.raises(SystemExit) as exc:
        main(["text", "redact", "-i", str(src), "-o", str(tmp_path / "y.parquet"),
              "--no-progress", "--delete", "--replacement", "[RACE]"])
    assert exc.value.code == 2 and "contradict" in capsys.readouterr().err
    main(["text", "redact", "-i", str(src), "-o", str(tmp_path / "z.parquet"), "--no-progress"])
    assert list(pd.read_parquet(tmp_path / "z.parquet")["text"])[0] == "54 yo [RACE] M with cp"
