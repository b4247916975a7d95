"""The one table reader/writer: the format follows the suffix, chunks round-trip, bad names fail."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pytest

from racelens.errors import ConfigError, DataError
from racelens.shared.tables import (
    check_write_suffix,
    iter_table_chunks,
    read_table,
    read_table_chunked,
    table_stem,
    table_writer,
    write_table,
)

_DF = pd.DataFrame({"note_id": ["a", "b", "c"], "text": ["x, \"y\"\nz", "é", None]})


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.jsonl", "t.parquet"])
def test_write_table_follows_the_suffix_and_reads_back(tmp_path, name) -> None:
    path = write_table(tmp_path / name, _DF)
    raw = path.read_bytes()
    if name.endswith(".parquet"):
        assert raw[:4] == b"PAR1"
    elif name.endswith(".gz"):
        assert raw[:2] == b"\x1f\x8b"
        assert gzip.decompress(raw).startswith(b"note_id,text")
    elif name.endswith(".csv"):
        assert raw.startswith(b"note_id,text")
    else:
        assert json.loads(raw.splitlines()[0]) == {"note_id": "a", "text": "x, \"y\"\nz"}
    back = read_table(path)
    assert back["note_id"].tolist() == ["a", "b", "c"]
    assert back["text"].tolist()[:2] == ["x, \"y\"\nz", "é"]
    assert pd.isna(back["text"].iloc[2])
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


@pytest.mark.parametrize("name", ["t.txt", "t.xlsx", "t", "t.tsv"])
def test_an_unknown_suffix_is_refused_before_writing(tmp_path, name) -> None:
    with pytest.raises(ConfigError, match=r"cannot tell the table format from the name; end it "
                       r"in \.csv, \.csv\.gz, \.jsonl, \.parquet"):
        write_table(tmp_path / name, _DF)
    with pytest.raises(ConfigError):
        check_write_suffix(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.jsonl", "t.parquet"])
def test_chunks_written_one_by_one_equal_the_whole(tmp_path, name) -> None:
    df = pd.DataFrame({"i": [str(k) for k in range(7)], "text": [f"n{k}" for k in range(7)]})
    src = write_table(tmp_path / f"src.{name.split('.', 1)[1]}", df)
    with table_writer(tmp_path / "out" / name) as w:
        for chunk in iter_table_chunks(src, chunk_rows=3):
            assert chunk.num_rows <= 3
            w.write(chunk)
    assert w.rows == 7
    assert read_table(tmp_path / "out" / name, dtype=str)["text"].tolist() == df["text"].tolist()


def test_a_writer_that_fails_leaves_nothing(tmp_path) -> None:
    with pytest.raises(RuntimeError), table_writer(tmp_path / "o.csv") as w:
        w.write(_DF)
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_writer_still_writes_a_table(tmp_path) -> None:
    for name in ("e.parquet", "e.csv"):
        with table_writer(tmp_path / name, empty_columns=["text"]):
            pass
        assert list(read_table(tmp_path / name).columns) == ["text"]


def test_chunked_read_selects_columns_and_counts_the_filter(tmp_path) -> None:
    src = write_table(tmp_path / "n.csv.gz", pd.DataFrame({"id": ["1", "2", "3"],
                                                           "cat": ["a", "b", "a"],
                                                           "other": ["x", "y", "z"]}))
    got, n_read, n_dropped = read_table_chunked(src, ["id", "cat"], chunk_rows=2,
                                                dtype={"id": "Int64"},
                                                keep=lambda ch: (ch["cat"] == "a").to_numpy())
    assert (n_read, n_dropped) == (3, 1)
    assert list(got.columns) == ["id", "cat"] and got["id"].tolist() == [1, 3]
    with pytest.raises(DataError, match=r"missing column\(s\) \['nope'\]"):
        read_table_chunked(src, ["id", "nope"])


def test_chunked_read_refuses_bytes_that_are_not_utf8(tmp_path) -> None:
    src = tmp_path / "bad.csv"
    src.write_bytes(b"id,text\n1,caf\xe9\n")
    with pytest.raises(DataError, match="not valid utf-8"):
        read_table_chunked(src, ["id", "text"])
    # the redaction's reader replaces them instead (and counts the notes)
    assert next(iter_table_chunks(src)).column("text").to_pylist() == ["caf\ufffd"]


def test_parquet_writer_casts_later_chunks_to_the_first_schema(tmp_path) -> None:
    with table_writer(tmp_path / "o.parquet") as w:
        w.write(pa.table({"a": pa.array(["x"], pa.string())}))
        w.write(pa.table({"a": pa.array([None], pa.null())}))
    assert read_table(tmp_path / "o.parquet")["a"].tolist()[0] == "x"


def test_table_stem_strips_the_table_suffix(tmp_path) -> None:
    assert table_stem(tmp_path / "notes.csv.gz") == tmp_path / "notes"
    assert table_stem(tmp_path / "m.parquet").with_suffix(".json") == tmp_path / "m.json"
