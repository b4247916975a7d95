"""Note redaction and residual-mention counts on Apache Spark (pyspark, Databricks).

:func:`redact_spark` applies :class:`~racelens.text.redact.redactor.RaceRedactor` to a Spark DataFrame
column with ``mapInPandas``: each Python worker builds the redactor once (a module-level cache
keyed by the redactor's configuration, so the lexicon is compiled once per worker process, not
once per task or batch) and redacts Arrow batches of notes. The code that decides what is
redacted is the single-machine code, so the text and spans are the same as
:func:`racelens.text.redact.stream.redact_file` gives, note for note.

:func:`residual_mentions_spark` runs the independent scan
(:func:`racelens.text.check.scan.scan_residual`) in the workers; each partition is reduced to counts
per term, category and group before anything leaves the worker (no shuffle), and the driver sums
those partials, so it only ever sees aggregates. It returns the same :class:`~racelens.text.check.report.MentionStats` as
:func:`racelens.text.check.report.mention_stats`.

:func:`racelens.text.spark.file.redact_file_spark` (which builds on this module; import it from
there) is the cluster counterpart of ``redact_file``: a file or cluster path in, a parquet
directory out.

The leakage model (hashing TF-IDF in Spark, logistic regression on the driver) lives in
:mod:`racelens.text.spark.leakage` and is re-exported here.

Executors need racelens installed (``pip install racelens`` on the cluster, or a wheel attached
to the Databricks cluster); in ``local[*]`` mode the workers use this interpreter.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from racelens.errors import ConfigError, DataError, MissingExtraError
from racelens.text.check.scan import ScanLevel, scan_residual
from racelens.text.redact.lexicon import Level
from racelens.text.redact.redactor import RaceRedactor
from racelens.text.spark.leakage import (
    hash_split,
    hashed_tfidf,
    leakage_auc_local,
    leakage_auc_spark,
    leakage_features_spark,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from racelens.text.check.report import MentionStats

__all__ = ["redact_spark", "residual_mentions_spark", "spark_session",
           "leakage_features_spark", "leakage_auc_spark", "leakage_auc_local", "hashed_tfidf",
           "hash_split", "SPAN_FIELDS"]

log = logging.getLogger(__name__)

#: The fields of one span in the ``spans_col`` array (a :class:`~racelens.text.redact.redactor.Span`).
SPAN_FIELDS: tuple[str, ...] = ("start", "end", "label", "category", "rule", "text")

# One compiled redactor per configuration per Python worker process (Spark reuses workers
# across tasks by default, spark.python.worker.reuse=true).
_REDACTORS: dict[tuple[Any, ...], RaceRedactor] = {}


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("pyspark", "spark") from exc


def spark_session(master: str = "local[2]", *, app_name: str = "racelens",
                  conf: Mapping[str, str] | None = None) -> SparkSession:
    """Get (or create) a Spark session.

    For ``local`` masters the Python workers run this interpreter (``PYSPARK_PYTHON`` is set
    to it unless already set, so they import the same racelens); on a cluster, the cluster's own Python settings apply. An existing session is
    returned as it is (Spark allows one per process).
    """
    _require_pyspark()
    from pyspark.sql import SparkSession

    if master.startswith("local") and SparkSession.getActiveSession() is None:
        # pyspark starts its workers with $PYSPARK_PYTHON (default: python3 on the PATH)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _cached_redactor(config: Mapping[str, Any]) -> RaceRedactor:
    key = tuple(sorted((k, repr(v)) for k, v in config.items()))
    redactor = _REDACTORS.get(key)
    if redactor is None:
        redactor = _REDACTORS[key] = RaceRedactor(**config)
    return redactor


def _redact_batches(config: Mapping[str, Any], text_col: str, keep_original: str | None,
                    spans_col: str | None) -> Callable[[Iterator[pd.DataFrame]],
                                                       Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function (a closure over plain, picklable values)."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        redactor = _cached_redactor(config)
        for pdf in batches:
            values = [v if isinstance(v, str) else None for v in pdf[text_col].tolist()]
            out: list[str | None] = []
            spans: list[list[dict[str, Any]] | None] = []
            for value in values:
                if value is None or not value.strip():  # as redact_file: passed through
                    out.append(value)
                    spans.append(None)
                    continue
                red = redactor.redact(value)
                out.append(red.text)
                spans.append([s.to_dict() for s in red.spans])
            pdf = pdf.copy()
            pdf[text_col] = pd.Series(out, index=pdf.index, dtype=object)
            if keep_original is not None:
                pdf[keep_original] = pd.Series(values, index=pdf.index, dtype=object)
            if spans_col is not None:
                pdf[spans_col] = pd.Series(spans, index=pdf.index, dtype=object)
            yield pdf

    return run


def _span_type() -> Any:
    from pyspark.sql import types as T

    return T.ArrayType(T.StructType(
        [T.StructField(f, T.IntegerType() if f in ("start", "end") else T.StringType())
         for f in SPAN_FIELDS]))


def redact_spark(df: DataFrame, *, text_col: str = "text", level: Level = "explicit",
                 replacement: str = "[RACE]", keep_original: str | None = None,
                 spans_col: str | None = None, redactor: RaceRedactor | None = None) -> DataFrame:
    """Redact race and ethnicity mentions in a Spark DataFrame column.

    Parameters
    ----------
    df
        Any Spark DataFrame with a string column ``text_col``.
    text_col
        The note column; its values are replaced by the redacted text. Null and blank notes
        pass through unchanged.
    level, replacement
        The :class:`RaceRedactor` settings (ignored when ``redactor`` is given).
    keep_original
        Name of a new column that keeps the original text.
    spans_col
        Name of a new column with the spans replaced, an array of structs with
        :data:`SPAN_FIELDS` in the original text's offsets (null for a passed-through note).
    redactor
        A configured redactor (user lexicon, extra terms); only its parameters are shipped to
        the workers, which compile it once each.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazily evaluated: the columns of ``df`` (same order), then ``keep_original``, then
        ``spans_col``.

    Examples
    --------
    >>> red = redact_spark(notes_df, spans_col="spans")  # doctest: +SKIP
    >>> red.write.parquet("notes_redacted")  # doctest: +SKIP
    """
    _require_pyspark()
    from pyspark.sql import types as T

    if text_col not in df.columns:
        raise DataError(f"no column {text_col!r}; the DataFrame has {df.columns}")
    if not isinstance(df.schema[text_col].dataType, T.StringType):
        raise DataError(f"column {text_col!r} is {df.schema[text_col].dataType.simpleString()}, "
                        "not a string; cast it to string first")
    for new in (keep_original, spans_col):
        if new is not None and new in df.columns:
            raise ConfigError(f"{new!r} already names a column; choose a new column name")
    if keep_original is not None and keep_original == spans_col:
        raise ConfigError("keep_original and spans_col must be different column names")
    redactor = redactor if redactor is not None else RaceRedactor(level=level,
                                                                  replacement=replacement)
    config = redactor.__getstate__()  # the constructor's parameters, picklable
    fields = list(df.schema.fields)
    if keep_original is not None:
        fields.append(T.StructField(keep_original, T.StringType()))
    if spans_col is not None:
        fields.append(T.StructField(spans_col, _span_type()))
    return df.mapInPandas(_redact_batches(config, text_col, keep_original, spans_col),
                          T.StructType(fields))


def _mention_batches(text_col: str, label_col: str | None, level: ScanLevel
                     ) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        # one set of counts per partition: a few rows per term leave the worker, no shuffle
        notes: Counter[tuple[str | None, str]] = Counter()
        terms: Counter[tuple[str, str]] = Counter()
        for pdf in batches:
            labels = (pdf[label_col].tolist() if label_col is not None
                      else [None] * len(pdf))
            for text, label in zip(pdf[text_col].tolist(), labels, strict=True):
                group = None if label is None or pd.isna(label) else str(label)
                hits = scan_residual(text, level) if isinstance(text, str) else []
                notes[(group, "n_notes")] += 1
                notes[(group, "n_mentions")] += len(hits)
                notes[(group, "n_notes_with_mentions")] += bool(hits)
                for _, _, term, cat in hits:
                    terms[("term", term)] += 1
                    terms[("category", cat)] += 1
        rows = [("note", key, group, n) for (group, key), n in notes.items()]
        rows += [(kind, key, None, n) for (kind, key), n in terms.items()]
        yield pd.DataFrame(rows, columns=["kind", "key", "grp", "n"])

    return run


def residual_mentions_spark(df: DataFrame, text_col: str = "text", label_col: str | None = None,
                            level: ScanLevel = "explicit") -> MentionStats:
    """Count race-term mentions with the independent residual scan, in Spark.

    Parameters
    ----------
    df
        Spark DataFrame of (usually redacted) notes.
    text_col
        The note column; null notes count as notes with no mention.
    label_col
        Self-reported group per note (cast to string); enables the per-group counts. Notes
        without a label count overall but in no group.
    level
        ``explicit`` or ``extended`` scan.

    Returns
    -------
    MentionStats
        Equal to :func:`racelens.text.check.report.mention_stats` on the same notes and labels.
    """
    _require_pyspark()
    from pyspark.sql import functions as F

    from racelens.text.check.report import MentionStats

    if level not in ("explicit", "extended"):
        raise ConfigError(f"level must be 'explicit' or 'extended', got {level!r}")
    cols = [text_col] + ([label_col] if label_col is not None else [])
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"no column(s) {missing}; the DataFrame has {df.columns}")
    src = df.select(F.col(text_col).cast("string").alias(text_col),
                    *([F.col(label_col).cast("string").alias(label_col)] if label_col else []))
    parts = src.mapInPandas(_mention_batches(text_col, label_col, level),
                            "kind string, key string, grp string, n long")
    per: dict[str | None, Counter[str]] = {}
    terms: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    for r in parts.collect():  # partition partials: partitions x distinct terms rows
        if r["kind"] == "note":
            per.setdefault(r["grp"], Counter())[r["key"]] += int(r["n"])
        else:
            (terms if r["kind"] == "term" else cats)[r["key"]] += int(r["n"])
    total: Counter[str] = sum(per.values(), Counter())
    n = total["n_notes"]
    per_group: dict[str, dict[str, float]] = {}
    if label_col is not None:
        for g in sorted(k for k in per if k is not None):
            c = per[g]
            k = c["n_notes"]
            per_group[g] = {"n_notes": k, "n_mentions": c["n_mentions"],
                            "n_notes_with_mentions": c["n_notes_with_mentions"],
                            "per_1000_notes": 1000.0 * c["n_mentions"] / k,
                            "share_notes_with_mentions": c["n_notes_with_mentions"] / k}
    return MentionStats(n, total["n_mentions"], total["n_notes_with_mentions"],
                        1000.0 * total["n_mentions"] / n if n else 0.0,
                        dict(sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))),
                        dict(sorted(cats.items())), per_group)

