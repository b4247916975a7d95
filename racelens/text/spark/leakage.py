"""Race leakage from notes at Spark scale: hashing TF-IDF in Spark, the leakage model on the driver.

Design decision: the logistic-regression leakage model runs **on a patient sample collected to
the driver**, with the ``C`` search of the one leakage model
(:func:`racelens.text.models.tfidf.search_logreg` with ``TfidfLogReg``'s candidates, as
:func:`racelens.text.check.leakage.fit_leakage` uses), not on Spark ML. Why:

1. The leakage number must be the same kind of number as every other racelens condition:
   the same multinomial logistic regression, the same choice of ``C`` on validation notes by
   macro AUC, the same :func:`racelens.shared.results.evaluate_condition` (patient-bootstrap
   intervals, p-value against chance). Spark ML's ``LogisticRegression`` scales its penalty
   differently (``regParam`` on the mean loss, standardised features by default), so its AUC
   would not be comparable number for number.
2. The patient bootstrap needs every test score on one machine anyway.
3. The leakage AUC is an estimate whose precision is set by the number of test notes, not by
   the warehouse's size: 200,000 notes (60,000 test notes) give intervals of about +-0.005;
   millions more notes do not change the audit's answer. The expensive parts that do grow with
   the warehouse (tokenising, hashing, document frequencies over every training note) run in
   Spark.

What runs where:

- **Spark**: n-grams (the same analyzer as the single-machine TF-IDF model, run in the Python
  workers so tokens are identical), ``HashingTF`` (MurmurHash3, seed 42), ``IDF`` fitted on
  the train and validation notes only, ``Normalizer`` (L2), and the sample: whole patients
  whose hash falls under ``max_driver_rows / rows``.
- **Driver**: the sample's sparse vectors become a SciPy CSR matrix and go to the ``C`` search.

The train/val/test split is by a hash of the patient id (SHA-256 of ``"split:<seed>:<id>"``),
so every engine, partitioning and sample assigns a patient to the same split; it is not
stratified by group (with thousands of patients per group the fractions hold on their own).
:func:`hashed_tfidf` and :func:`leakage_auc_local` are the single-machine mirror, used to
check the Spark path exactly and to run the same probe without Spark.

Where the one leakage model does not apply: the features differ from
:func:`racelens.text.check.leakage.leakage_probe`'s vocabulary TF-IDF (which needs a vocabulary
on the driver): hashed buckets (collisions), raw term counts and Spark's IDF
``log((m + 1) / (df + 1))`` with buckets in fewer than ``min_doc_freq`` training notes set to
zero; and the split is the patient hash, not the stratified split. Both feed the same ``C``
search and the same scoring, so the Spark number is the same kind of number, not the same one.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError, MissingExtraError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from scipy import sparse

    from racelens.text.check.leakage import Leakage

__all__ = ["hash_split", "hashed_tfidf", "leakage_features_spark", "leakage_auc_spark",
           "leakage_auc_local", "NUM_FEATURES", "HASH_SEED"]

NUM_FEATURES = 2 ** 18
HASH_SEED = 42  # Spark's HashingTF murmur3 seed
_UNIT = float(2 ** 52)  # 13 hex digits of SHA-256 -> an exact double in [0, 1)


def _fractions(fractions: Sequence[float]) -> tuple[float, float]:
    from racelens.shared.splits import validate_fractions

    f = validate_fractions(fractions)
    return float(f[0]), float(f[0] + f[1])


def _unit_py(values: Sequence[Any], salt: str) -> np.ndarray:
    out = np.empty(len(values), dtype=float)
    for i, v in enumerate(values):
        digest = hashlib.sha256(f"{salt}:{v}".encode()).hexdigest()
        out[i] = int(digest[:13], 16) / _UNIT
    return out


def _unit_col(col: Column, salt: str) -> Column:
    from pyspark.sql import functions as F

    digest = F.sha2(F.concat(F.lit(salt + ":"), col.cast("string")), 256)
    return F.conv(F.substring(digest, 1, 13), 16, 10).cast("long").cast("double") / F.lit(_UNIT)


def hash_split(patient_ids: Sequence[Any], *, seed: int = 0,
               fractions: Sequence[float] = (0.6, 0.1, 0.3)) -> np.ndarray:
    """``train``/``val``/``test`` per row from a hash of the patient id (same on every engine).

    A patient's position in ``[0, 1)`` is the first 52 bits of SHA-256 of
    ``"split:<seed>:<patient id as text>"``; below ``fractions[0]`` is train, below
    ``fractions[0] + fractions[1]`` val, the rest test.
    """
    train, val = _fractions(fractions)
    u = _unit_py([str(p) for p in patient_ids], f"split:{seed}")
    return np.where(u < train, "train", np.where(u < val, "val", "test")).astype(object)


def _analyzer() -> Callable[[str], list[str]]:
    from racelens.text.models.tfidf import make_vectorizer

    return make_vectorizer(min_df=1).build_analyzer()


def _bucket(terms: list[str], num_features: int) -> np.ndarray:
    from sklearn.utils import murmurhash3_32

    return np.fromiter((murmurhash3_32(t, seed=HASH_SEED) % num_features for t in terms),
                       dtype=np.int64, count=len(terms))


def hashed_tfidf(texts: Sequence[str | None], fit_rows: np.ndarray, *,
                 num_features: int = NUM_FEATURES, min_doc_freq: int = 5) -> sparse.csr_matrix:
    """The single-machine mirror of :func:`leakage_features_spark` (same numbers).

    Parameters
    ----------
    texts
        Notes (``None`` counts as empty).
    fit_rows
        Boolean mask or positions of the notes the IDF is fitted on (train and validation).
    num_features, min_doc_freq
        Hash buckets; buckets in fewer training notes than this get IDF 0.
    """
    from scipy import sparse

    analyze = _analyzer()
    rows, cols, vals = [], [], []
    for i, t in enumerate(texts):
        idx, counts = np.unique(_bucket(analyze(t) if isinstance(t, str) else [], num_features),
                                return_counts=True)
        rows.append(np.full(len(idx), i))
        cols.append(idx)
        vals.append(counts.astype(float))
    tf = sparse.csr_matrix((np.concatenate(vals) if vals else [],
                            (np.concatenate(rows) if rows else [],
                             np.concatenate(cols) if cols else [])),
                           shape=(len(texts), num_features))
    fit = tf[np.asarray(fit_rows)]
    df = np.bincount(fit.indices, minlength=num_features)
    idf = np.where(df >= min_doc_freq, np.log((fit.shape[0] + 1.0) / (df + 1.0)), 0.0)
    x = sparse.csr_matrix(tf.multiply(idf[None, :]))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sparse.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 1.0)) @ x
    x.eliminate_zeros()
    return sparse.csr_matrix(x)


def _ngram_batches(text_col: str, out_col: str
                   ) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        analyze = _analyzer()
        for pdf in batches:
            pdf = pdf.copy()
            pdf[out_col] = pd.Series([analyze(t) if isinstance(t, str) else []
                                      for t in pdf[text_col].tolist()], index=pdf.index,
                                     dtype=object)
            yield pdf

    return run


def leakage_features_spark(df: DataFrame, text_col: str = "text", *, fit_col: str | None = None,
                           num_features: int = NUM_FEATURES, min_doc_freq: int = 5,
                           features_col: str = "features") -> DataFrame:
    """Hashing TF-IDF features of a note column, computed with Spark ML.

    Parameters
    ----------
    df
        Spark DataFrame of notes.
    text_col
        The note column.
    fit_col
        Boolean column: the rows the IDF is fitted on (train and validation notes); all rows
        when omitted.
    num_features, min_doc_freq
        ``HashingTF`` buckets and ``IDF`` minimum document frequency.
    features_col
        Name of the L2-normalised TF-IDF vector column added to ``df``.

    Returns
    -------
    pyspark.sql.DataFrame
        ``df`` with ``features_col`` (the IDF is fitted eagerly, one pass over the fit rows).
    """
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("pyspark", "spark") from exc
    if text_col not in df.columns:
        raise DataError(f"no column {text_col!r}; the DataFrame has {df.columns}")
    return _tfidf(_hashed_counts(df, text_col, num_features), fit_col, min_doc_freq, features_col)


_TF = "__racelens_tf"


def _hashed_counts(df: DataFrame, text_col: str, num_features: int) -> DataFrame:
    """``df`` with the hashed n-gram counts (``HashingTF``) of ``text_col`` in ``_TF``."""
    from pyspark.ml.feature import HashingTF
    from pyspark.sql import types as T

    grams = "__racelens_ngrams"
    schema = T.StructType(list(df.schema.fields) + [T.StructField(grams, T.ArrayType(T.StringType()))])
    tokens = df.mapInPandas(_ngram_batches(text_col, grams), schema)
    return HashingTF(inputCol=grams, outputCol=_TF, numFeatures=num_features).transform(tokens).drop(grams)


def _tfidf(counted: DataFrame, fit_col: str | None, min_doc_freq: int, features_col: str) -> DataFrame:
    from pyspark.ml.feature import IDF, Normalizer
    from pyspark.sql import functions as F

    tfidf = "__racelens_tfidf"
    fit_on = counted if fit_col is None else counted.filter(F.col(fit_col))
    idf = IDF(inputCol=_TF, outputCol=tfidf, minDocFreq=min_doc_freq).fit(fit_on)
    out = Normalizer(inputCol=tfidf, outputCol=features_col, p=2.0).transform(idf.transform(counted))
    return out.drop(_TF, tfidf)


def _order(patients: Sequence[Any], texts: Sequence[str | None]) -> np.ndarray:
    """Rows sorted by (patient id text, SHA-256 of the note): the same order on every engine."""
    keys = [(str(p), hashlib.sha256((t if isinstance(t, str) else "").encode()).hexdigest())
            for p, t in zip(patients, texts, strict=True)]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=int)


def _probe(x: sparse.csr_matrix, labels: np.ndarray, pids: np.ndarray, split: np.ndarray, *,
           level: str, seed: int, n_boot: int, extras: dict[str, Any]) -> Leakage:
    """The leakage model's ``C`` search and scoring on hashed features (see the module doc)."""
    from racelens.shared.results import Condition
    from racelens.text.check.leakage import Leakage, fit_features

    classes = sorted(set(labels.tolist()))
    cond = Condition("redact", {"level": level}) if level != "none" else Condition("original")
    result, _, _, best_c = fit_features(x, labels, pids, split, classes, cond, seed=seed,
                                        n_boot=n_boot, extras={"features": extras})
    result = dataclasses.replace(result, extras={**result.extras, "model": {"C": best_c}})
    return Leakage(result, int((split == "train").sum()), int((split == "val").sum()),
                   int((split == "test").sum()), int(x.shape[1]))


def leakage_auc_local(texts: Sequence[str | None], labels: Sequence[Any],
                      patient_ids: Sequence[Any], *, level: str = "explicit", seed: int = 0,
                      n_boot: int = 1000, num_features: int = NUM_FEATURES, min_doc_freq: int = 5,
                      fractions: Sequence[float] = (0.6, 0.1, 0.3)) -> Leakage:
    """The single-machine leakage probe on hashed TF-IDF with the hash split.

    Same numbers as :func:`leakage_auc_spark` when that one keeps every note
    (``max_driver_rows`` at least the number of notes).
    """
    texts, patient_ids, labels = list(texts), list(patient_ids), list(labels)
    if not len(texts) == len(patient_ids) == len(labels):
        raise DataError(f"{len(texts)} notes, {len(labels)} labels and {len(patient_ids)} "
                        "patient ids; give one of each per note")
    order = _order(patient_ids, texts)
    texts = [texts[i] for i in order]
    pids = np.asarray([str(patient_ids[i]) for i in order], dtype=object)
    labels_arr = np.asarray([str(labels[i]) for i in order], dtype=object)
    split = hash_split(pids, seed=seed, fractions=fractions)
    x = hashed_tfidf(texts, split != "test", num_features=num_features, min_doc_freq=min_doc_freq)
    return _probe(x, labels_arr, pids, split, level=level, seed=seed, n_boot=n_boot,
                  extras={"engine": "local", "hashing": num_features, "min_doc_freq": min_doc_freq,
                          "split": "patient hash", "sample_fraction": 1.0, "n_rows": len(texts)})


def leakage_auc_spark(df: DataFrame, text_col: str = "text", label_col: str = "race",
                      patient_col: str = "subject_id", *, level: str = "explicit", seed: int = 0,
                      n_boot: int = 1000, num_features: int = NUM_FEATURES, min_doc_freq: int = 5,
                      fractions: Sequence[float] = (0.6, 0.1, 0.3),
                      max_driver_rows: int = 200_000) -> Leakage:
    """Race predictability from (redacted) notes in a Spark DataFrame.

    Features and document frequencies are computed in Spark over every note; whole patients
    are sampled to at most about ``max_driver_rows`` notes, collected, and scored by the shared
    linear probe (see the module docstring for why).

    Parameters
    ----------
    df
        Notes with a text, a label (race group, rows with a null label are left out) and a
        patient column.
    level
        The redaction level the notes went through (``"none"``: original notes).
    seed
        Seeds the patient-hash split, the probe and the bootstrap.
    max_driver_rows
        Notes collected to the driver at most (in expectation: the sample takes whole patients).

    Returns
    -------
    Leakage
        ``result.extras["features"]`` records the engine, hashing, sample fraction and rows.
    """
    try:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
    except ImportError as exc:
        raise MissingExtraError("pyspark", "spark") from exc
    from scipy import sparse

    missing = [c for c in (text_col, label_col, patient_col) if c not in df.columns]
    if missing:
        raise DataError(f"no column(s) {missing}; the DataFrame has {df.columns}")
    if max_driver_rows < 1:
        raise ConfigError(f"max_driver_rows must be >= 1, got {max_driver_rows}")
    train, val = _fractions(fractions)
    pid = F.col(patient_col).cast("string")
    base = df.select(F.col(text_col).cast("string").alias("text"), pid.alias("pid"),
                     F.col(label_col).cast("string").alias("label")).filter(F.col("label").isNotNull())
    u = _unit_col(F.col("pid"), f"split:{seed}")
    base = base.withColumn("split", F.when(u < train, "train").when(u < val, "val").otherwise("test"))
    base = base.withColumn("fit", F.col("split") != "test")
    # tokenise and hash once: the IDF fit and the collected sample both read the cached counts
    counted = _hashed_counts(base, "text", num_features).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        n_rows = counted.count()
        if n_rows == 0:
            raise DataError("no labelled notes to probe")
        fraction = min(1.0, max_driver_rows / n_rows)
        feats = _tfidf(counted, "fit", min_doc_freq, "features")
        if fraction < 1.0:
            feats = feats.filter(_unit_col(F.col("pid"), f"sample:{seed}") < fraction)
        rows = feats.select("pid", "label", "split", F.sha2(F.coalesce("text", F.lit("")), 256)
                            .alias("key"), "features").collect()
    finally:
        counted.unpersist()
    rows.sort(key=lambda r: (r["pid"], r["key"]))
    if not rows:
        raise DataError("the patient sample is empty; raise max_driver_rows")
    indptr = np.cumsum([0] + [len(r["features"].indices) for r in rows])
    x = sparse.csr_matrix((np.concatenate([r["features"].values for r in rows]),
                           np.concatenate([r["features"].indices for r in rows]), indptr),
                          shape=(len(rows), num_features))
    x.eliminate_zeros()
    return _probe(x, np.asarray([r["label"] for r in rows], dtype=object),
                  np.asarray([r["pid"] for r in rows], dtype=object),
                  np.asarray([r["split"] for r in rows], dtype=object), level=level, seed=seed,
                  n_boot=n_boot, extras={"engine": "spark", "hashing": num_features,
                                         "min_doc_freq": min_doc_freq, "split": "patient hash",
                                         "sample_fraction": fraction, "n_rows": n_rows})
