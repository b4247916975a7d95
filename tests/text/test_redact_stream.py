"""Streaming redaction of CSV / parquet / JSON-lines note tables into parquet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from racelens.errors import ConfigError, DataError
from racelens.text.redact.redactor import RaceRedactor
from racelens.text.redact.stream import RedactStats, iter_table_chunks, redact_file

NOTES = [
    "54 yo AA M with CP.\nSays \"hi\", Caucasian wife at bedside.",  # embedded newline + quotes
    None,  # missing note
    "WBC 12, black stools, white matter changes.",
    "Race: White\nEthnicity: Hispanic",
    "",
]


def _frame(n_copies: int = 5) -> pd.DataFrame:
    rows = []
    for k in range(n_copies):
        for j, note in enumerate(NOTES):
            rows.append({"note_id": f"n{k}-{j}", "subject_id": 100 + k, "text": note})
    return pd.DataFrame(rows)


def _write(df: pd.DataFrame, path) -> None:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_stream_larger_than_one_chunk(tmp_path, suffix: str) -> None:
    df = _frame()
    src = tmp_path / f"notes{suffix}"
    _write(df, src)
    out, spans = tmp_path / "out" / "red.parquet", tmp_path / "spans.jsonl"
    stats = redact_file(src, out, spans_out=spans, id_col="note_id", chunk_rows=3, progress=False)
    assert stats == RedactStats(rows=25, notes_with_mentions=10, spans=20,
                                by_category={"black": 5, "hispanic_latino": 5, "white": 10},
                                skipped=10, decode_replaced=0, chunks=9)
    got = pd.read_parquet(out)
    assert list(got.columns) == ["note_id", "subject_id", "text"]
    r = RaceRedactor()
    expected = [r.redact(t).text if isinstance(t, str) and t else None for t in df["text"]]
    assert [None if pd.isna(t) or t == "" else t for t in got["text"]] == expected
    assert got["text"][0] == "54 yo [RACE] M with CP.\nSays \"hi\", [RACE] wife at bedside."
    assert got["text"][3] == "Race: [RACE]\nEthnicity: [RACE]"
    assert list(got["note_id"]) == list(df["note_id"])
    lines = [json.loads(x) for x in spans.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 20
    assert lines[0] == {"row": 0, "note_id": "n0-0", "start": 6, "end": 8, "rule": "demographic_slot",
                        "category": "black", "term": "AA"}
    assert set(lines[-1]) == {"row", "note_id", "start", "end", "rule", "category", "term"}
    assert lines[-1]["row"] == 23
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # temp files gone


def test_keep_original_and_parquet_schema_kept(tmp_path) -> None:
    src = tmp_path / "n.parquet"
    table = pa.table({"id": pa.array([1, 2], pa.int64()), "text": ["Asian man", "no mention"],
                      "score": pa.array([0.5, 1.5], pa.float32())})
    pq.write_table(table, src)
    out = tmp_path / "o.parquet"
    stats = redact_file(src, out, keep_original="text_original", progress=True)
    got = pq.read_table(out)
    assert got.schema.field("id").type == pa.int64() and got.schema.field("score").type == pa.float32()
    assert got.column("text").to_pylist() == ["[RACE] man", "no mention"]
    assert got.column("text_original").to_pylist() == ["Asian man", "no mention"]
    assert (stats.rows, stats.spans, stats.chunks) == (2, 1, 1)


def test_invalid_utf8_is_replaced_and_counted(tmp_path) -> None:
    src = tmp_path / "bad.csv"
    src.write_bytes(b"text\nCaucasian \xff\xfe man\nplain\n")
    out = tmp_path / "o.parquet"
    stats = redact_file(src, out, progress=False)
    assert (stats.rows, stats.decode_replaced, stats.spans) == (2, 1, 1)
    assert pd.read_parquet(out)["text"][0] == "[RACE] \ufffd\ufffd man"


def test_errors(tmp_path) -> None:
    src = tmp_path / "n.csv"
    pd.DataFrame({"body": ["x"], "orig": ["y"]}).to_csv(src, index=False)
    with pytest.raises(DataError, match="no column 'text'"):
        redact_file(src, tmp_path / "o.parquet", progress=False)
    with pytest.raises(ConfigError, match="already names a column"):
        redact_file(src, tmp_path / "o.parquet", text_col="body", keep_original="orig", progress=False)
    with pytest.raises(DataError, match="unknown note table format"):
        redact_file(tmp_path / "n.txt", tmp_path / "o.parquet", progress=False) if (
            tmp_path / "n.txt").write_text("x") else None
    with pytest.raises(DataError, match="file not found"):
        list(iter_table_chunks(tmp_path / "missing.csv"))
    assert not (tmp_path / "o.parquet").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataError, match="bad.jsonl:2: not valid JSON"):
        redact_file(bad, tmp_path / "o.parquet", progress=False)


def test_empty_table(tmp_path) -> None:
    src = tmp_path / "e.jsonl"
    src.write_text("", encoding="utf-8")
    stats = redact_file(src, tmp_path / "o.parquet", progress=False)
    assert stats.rows == 0 and pq.read_table(tmp_path / "o.parquet").num_rows == 0


def _interrupted_at_the_end(tmp_path, src, out):
    """A real failure after every chunk is done: the spans path is a directory, so the final
    rename fails (OSError) and the finished parts stay for a resume."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    with pytest.raises(OSError):
        redact_file(src, out, spans_out=blocked, id_col="note_id", chunk_rows=4, progress=False)
    parts = out.parent / f".{out.name}.parts"
    assert len(list(parts.glob("part-*.parquet"))) == 7 and not out.exists()
    return parts


def test_resume_keeps_finished_chunks_and_gives_the_straight_result(tmp_path, caplog) -> None:
    src = tmp_path / "notes.csv"
    _write(_frame(), src)
    straight = redact_file(src, tmp_path / "a.parquet", spans_out=tmp_path / "a.jsonl",
                           id_col="note_id", chunk_rows=4, progress=False)
    out = tmp_path / "b.parquet"
    parts = _interrupted_at_the_end(tmp_path, src, out)
    with caplog.at_level("INFO", logger="racelens.text.redact.stream"):
        resumed = redact_file(src, out, spans_out=tmp_path / "b.jsonl", id_col="note_id",
                              chunk_rows=4, progress=False, resume=True)
    assert "resumed: 7 of 7 chunks were already redacted" in caplog.text
    assert resumed == straight
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(tmp_path / "a.parquet"))
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    assert not parts.exists()


def test_resume_refuses_changed_input_or_options_and_plain_run_discards(tmp_path, caplog) -> None:
    src = tmp_path / "notes.csv"
    _write(_frame(), src)
    out = tmp_path / "b.parquet"
    parts = _interrupted_at_the_end(tmp_path, src, out)
    with pytest.raises(ConfigError, match="level differ.*without --resume"):
        redact_file(src, out, spans_out=tmp_path / "b.jsonl", id_col="note_id", chunk_rows=4,
                    progress=False, resume=True, level="extended")
    with pytest.raises(ConfigError, match="chunk_rows"):
        redact_file(src, out, spans_out=tmp_path / "b.jsonl", id_col="note_id", chunk_rows=5,
                    progress=False, resume=True)
    _write(_frame(6), src)  # the input was rewritten since
    with pytest.raises(ConfigError, match="size"):
        redact_file(src, out, spans_out=tmp_path / "b.jsonl", id_col="note_id", chunk_rows=4,
                    progress=False, resume=True)
    assert len(list(parts.glob("part-*.parquet"))) == 7  # a refusal keeps the parts
    with caplog.at_level("INFO", logger="racelens.text.redact.stream"):
        stats = redact_file(src, out, chunk_rows=4, progress=False)  # no --resume: start over
    assert "resumed" not in caplog.text
    assert stats.rows == 30 and len(pd.read_parquet(out)) == 30 and not parts.exists()


def test_parquet_chunks_do_not_keep_earlier_row_groups(tmp_path) -> None:
    # A pre-buffering parquet reader cached every row group it had read until it was closed
    # (apache/arrow#39808): Arrow memory grew with the file, not the chunk (checks of 2 GB tables).
    rng = np.random.default_rng(0)
    n_groups, rows = 30, 500
    path = tmp_path / "big.parquet"
    with pq.ParquetWriter(path, pa.schema([("text", pa.string())])) as writer:
        for _ in range(n_groups):
            texts = [rng.bytes(400).hex() for _ in range(rows)]  # 800 chars, barely compressible
            writer.write_table(pa.table({"text": texts}))
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == n_groups
    group_bytes = max(meta.row_group(i).total_byte_size for i in range(n_groups))
    base = pa.total_allocated_bytes()
    held, n, parts = 0, 0, []
    for table in iter_table_chunks(path, chunk_rows=rows):
        held = max(held, pa.total_allocated_bytes() - base)
        n += table.num_rows
        parts.append(table.column("text")[0].as_py())
        del table
    assert n == n_groups * rows
    assert parts == [pq.read_table(path).column("text")[i * rows].as_py() for i in range(n_groups)]
    # a few row groups' worth (the chunk, the decoded group, its pages: ~4x here), not the file
    # (~33x here before the fix)
    assert held < 8 * group_bytes, (held, group_bytes)
