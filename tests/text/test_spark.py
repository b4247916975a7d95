"""racelens.text.spark.session on pyspark local[2]: exactly the single-machine results, note for note."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'racelens[spark]'")

from racelens.errors import ConfigError, DataError  # noqa: E402
from racelens.shared.synthetic import synthetic_patients  # noqa: E402
from racelens.text.check.report import mention_stats  # noqa: E402
from racelens.text.redact.redactor import RaceRedactor  # noqa: E402
from racelens.text.redact.stream import redact_file  # noqa: E402
from racelens.text.spark.file import redact_file_spark  # noqa: E402
from racelens.text.spark.leakage import _unit_py  # noqa: E402
from racelens.text.spark.session import (  # noqa: E402
    hash_split,
    hashed_tfidf,
    leakage_auc_local,
    leakage_auc_spark,
    leakage_features_spark,
    redact_spark,
    residual_mentions_spark,
    spark_session,
)
from racelens.text.synthetic import synthetic_notes  # noqa: E402

EDGE = [None, "", "   ", "54 yo AA M, née Müller, speaks Cantonese; bad byte \ufffd here.",
        "Race: White\nEthnicity: Hispanic or Latino", "WBC 12, black stools, Dr. White."]


def _java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    return shutil.which("java") is not None or bool(home and Path(home, "bin", "java").exists())


@pytest.fixture(scope="module")
def spark():
    if not _java_available():
        pytest.skip("no Java runtime for pyspark; install one with scripts/java-deps.sh")
    session = spark_session("local[2]", app_name="racelens-tests", conf={
        "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": "1g", "spark.sql.execution.arrow.maxRecordsPerBatch": "50",
        "spark.sql.session.timeZone": "UTC"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def notes() -> pd.DataFrame:
    patients = synthetic_patients(90, seed=3)
    df = synthetic_notes(patients, seed=3).notes[["note_id", "subject_id", "text", "race"]]
    edge = pd.DataFrame({"note_id": [f"E{i}" for i in range(len(EDGE))],
                         "subject_id": [f"Q{9000 + i}" for i in range(len(EDGE))],
                         "text": EDGE, "race": ["White", None, "Black", "Asian", "White", None]})
    out = pd.concat([df, edge], ignore_index=True)
    return out.astype({"note_id": object, "subject_id": object, "text": object, "race": object})


def _sdf(spark, df: pd.DataFrame):
    schema = "note_id string, subject_id string, text string, race string"
    rows = [tuple(None if (v is None or (isinstance(v, float) and np.isnan(v))) else v
                  for v in r) for r in df.itertuples(index=False)]
    return spark.createDataFrame(rows, schema)  # 2 partitions, several Arrow batches each


@pytest.mark.parametrize("replacement", ["[RACE]", ""])  # a token, and deletion
def test_redact_spark_matches_redactor_note_for_note(spark, notes, replacement: str) -> None:
    assert len(notes) > 200
    red = redact_spark(_sdf(spark, notes), keep_original="original", spans_col="spans",
                       replacement=replacement)
    assert red.columns == ["note_id", "subject_id", "text", "race", "original", "spans"]
    got = {r["note_id"]: r for r in red.collect()}
    assert len(got) == len(notes)
    r = RaceRedactor(replacement=replacement)
    n_spans = 0
    for note_id, text in zip(notes["note_id"], notes["text"], strict=True):
        row = got[note_id]
        text = text if isinstance(text, str) else None
        assert row["original"] == text
        if text is None or not text.strip():
            assert row["text"] == text and row["spans"] is None
            continue
        expected = r.redact(text)
        assert row["text"] == expected.text
        assert [s.asDict() for s in row["spans"]] == [s.to_dict() for s in expected.spans]
        n_spans += len(expected.spans)
    assert n_spans > 50  # the demo notes do mention race


def test_redact_spark_custom_redactor_and_extended(spark, notes) -> None:
    r = RaceRedactor(level="extended", replacement="<R>", extra_terms=["Müller"])
    red = {x["note_id"]: x["text"] for x in redact_spark(_sdf(spark, notes.tail(6)),
                                                          redactor=r).collect()}
    assert red["E3"] == r.redact(EDGE[3]).text
    assert "<R>" in red["E3"] and "Cantonese" not in red["E3"] and "Müller" not in red["E3"]


def test_redact_spark_errors(spark, notes) -> None:
    sdf = _sdf(spark, notes.head(3))
    with pytest.raises(DataError, match="no column 'body'"):
        redact_spark(sdf, text_col="body")
    with pytest.raises(DataError, match="not a string"):
        redact_spark(sdf.selectExpr("note_id", "length(text) AS n"), text_col="n")
    with pytest.raises(ConfigError, match="already names a column"):
        redact_spark(sdf, keep_original="race")


def test_residual_counts_equal_single_machine(spark, notes) -> None:
    sdf = _sdf(spark, notes)
    labels = np.asarray([None if pd.isna(v) else str(v) for v in notes["race"]], dtype=object)
    texts = [t if isinstance(t, str) else "" for t in notes["text"]]
    got = residual_mentions_spark(sdf, "text", "race", level="explicit")
    assert got == mention_stats(texts, labels, "explicit")
    assert got.n_mentions > 50 and set(got.per_group) == {"Asian", "Black", "Unknown", "White"}
    extended = residual_mentions_spark(sdf, "text", "race", level="extended")
    assert extended == mention_stats(texts, labels, "extended")
    assert extended.categories.get("language", 0) >= 1
    red = redact_spark(sdf, level="explicit")
    red_texts = [RaceRedactor().redact(t).text if t.strip() else t for t in texts]
    got_red = residual_mentions_spark(red, "text", None, level="explicit")
    assert got_red == mention_stats(red_texts, None, "explicit")
    assert got_red.n_mentions < got.n_mentions and got_red.per_group == {}
    with pytest.raises(ConfigError, match="level must be"):
        residual_mentions_spark(sdf, level="all")  # type: ignore[arg-type]


def _write(df: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True, force_ascii=False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_redact_file_spark_equals_redact_file(spark, notes, tmp_path, suffix: str) -> None:
    df = notes.head(60).drop(columns=["subject_id"])
    df = pd.concat([df, notes.tail(len(EDGE))], ignore_index=True)[["note_id", "text", "race"]]
    src = tmp_path / f"notes{suffix}"
    _write(df, src)
    local = redact_file(src, tmp_path / "local.parquet", spans_out=tmp_path / "local.jsonl",
                        id_col="note_id", keep_original="orig", progress=False)
    out, spans = tmp_path / "spark_out", tmp_path / "spark_spans"
    got = redact_file_spark(src, out, spans_out=spans, id_col="note_id", keep_original="orig")
    assert got.chunks >= 1
    assert {**got.to_dict(), "chunks": 0} == {**local.to_dict(), "chunks": 0}
    assert got.spans > 20 and got.skipped >= 1 and got.decode_replaced == 1
    expected = pd.read_parquet(tmp_path / "local.parquet")
    written = pd.read_parquet(out)
    assert list(written.columns) == list(expected.columns)
    blank = lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else v  # noqa: E731
    for col in expected.columns:
        assert [blank(v) for v in written[col]] == [blank(v) for v in expected[col]], col
    local_spans = [json.loads(x) for x in (tmp_path / "local.jsonl").read_text("utf-8").splitlines()]
    spark_spans = [json.loads(x) for part in sorted(spans.glob("part-*.json"))
                   for x in part.read_text("utf-8").splitlines()]
    assert spark_spans == local_spans
    # an earlier Spark output is replaced; anything else is refused
    again = redact_file_spark(src, out, id_col="note_id")
    assert again.rows == got.rows and not (out.parent / f".{out.name}.tmp").exists()
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ConfigError, match="not an earlier Spark output"):
        redact_file_spark(src, tmp_path / "taken")
    with pytest.raises(DataError, match="no column 'body'"):
        redact_file_spark(src, tmp_path / "o2", text_col="body")


def test_hash_split_is_the_spark_split_and_stable() -> None:
    pids = [str(i) for i in range(2000)]
    split = hash_split(pids, seed=0)
    assert (hash_split(pids[::-1], seed=0)[::-1] == split).all()
    share = {s: float(np.mean(split == s)) for s in ("train", "val", "test")}
    assert abs(share["train"] - 0.6) < 0.04 and abs(share["test"] - 0.3) < 0.04
    assert (hash_split(pids, seed=1) != split).mean() > 0.3
    with pytest.raises(ConfigError, match="summing to 1"):
        hash_split(pids, fractions=(0.5, 0.5, 0.5))


def test_hashed_tfidf_equals_spark_features(spark, notes) -> None:
    sdf = _sdf(spark, notes)
    split = hash_split(notes["subject_id"].astype(str).tolist(), seed=0)
    frame = notes.assign(fit=split != "test")
    sdf = spark.createDataFrame(
        [(r.note_id, r.text, bool(r.fit)) for r in frame.itertuples()],
        "note_id string, text string, fit boolean")
    feats = leakage_features_spark(sdf, "text", fit_col="fit", num_features=2 ** 12,
                                   min_doc_freq=3).select("note_id", "features").collect()
    by_id = {r["note_id"]: r["features"] for r in feats}
    local = hashed_tfidf(notes["text"].tolist(), split != "test", num_features=2 ** 12,
                         min_doc_freq=3)
    got = np.vstack([by_id[i].toArray() for i in notes["note_id"]])
    assert local.nnz > 1000
    np.testing.assert_allclose(got, local.toarray(), rtol=0, atol=1e-12)


def test_leakage_auc_spark_equals_local(spark, notes) -> None:
    labelled = notes[notes["race"].isin(["Asian", "Black", "White"])]
    sdf = _sdf(spark, labelled)
    kw = dict(level="explicit", seed=0, n_boot=100, num_features=2 ** 14, min_doc_freq=3)
    got = leakage_auc_spark(sdf, "text", "race", "subject_id", **kw)
    local = leakage_auc_local(labelled["text"].tolist(), labelled["race"].tolist(),
                              labelled["subject_id"].tolist(), **kw)
    assert got.result.extras["features"]["engine"] == "spark"
    g, w = got.to_dict(), local.to_dict()
    g["extras"]["features"].pop("engine")
    w["extras"]["features"].pop("engine")
    assert g == w
    assert got.n_train + got.n_val + got.n_test == len(labelled)
    assert got.result.auc.macro.estimate > 0.6  # the synthetic notes carry proxies

    # a sample of whole patients: exactly those whose sample hash falls under the fraction
    cap = len(labelled) // 2
    sampled = leakage_auc_spark(sdf, "text", "race", "subject_id", **{**kw, "n_boot": 50},
                                max_driver_rows=cap)
    fraction = sampled.result.extras["features"]["sample_fraction"]
    assert fraction == cap / len(labelled)
    keep = _unit_py(labelled["subject_id"].astype(str).tolist(), "sample:0") < fraction
    assert sampled.n_train + sampled.n_val + sampled.n_test == int(keep.sum())


def test_cli_engine_spark_writes_the_same_table_as_local(spark, notes, tmp_path, capsys) -> None:
    from racelens.cli.main import main

    src = tmp_path / "notes.parquet"
    notes.head(40)[["note_id", "text", "race"]].to_parquet(src, index=False)
    main(["text", "redact", "--input", str(src), "--out", str(tmp_path / "local.parquet"),
          "--no-progress"])
    local_line = capsys.readouterr().out.splitlines()[0]
    main(["text", "redact", "--input", str(src), "--out", str(tmp_path / "spark_out"),
          "--engine", "spark", "--master", "local[1]"])
    spark_line = capsys.readouterr().out.splitlines()[0]
    assert spark_line == local_line and local_line.startswith("rows: 40 ")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "spark_out"),
                                  pd.read_parquet(tmp_path / "local.parquet"))
