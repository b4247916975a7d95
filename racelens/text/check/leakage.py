"""The one leakage model and the one proxy ranker of racelens's text layer.

"How predictable is race from these notes?" has one answer per condition and table, whoever
asks: ``text check`` (:func:`leakage_probe`, in memory or streamed), ``text audit`` (each
redaction level) and ``text explain`` all call :func:`fit_leakage` on the split of
:func:`leakage_split`. The model is :class:`~racelens.text.models.tfidf.TfidfLogReg` by default
(one vectoriser config, one ``C`` search on the validation notes), fitted on the training notes
and scored on the test notes through :func:`racelens.shared.results.evaluate_condition`
(patient-bootstrap intervals). Same table, seed and model: same number, in every report.

:func:`rank_proxies` is the one proxy ranker: the n-grams with the largest positive weight per
group in a fitted linear model, each with the number of distinct *training patients* whose notes
hold it (the k-anonymity-style floor ``min_patients``: a name or MRN repeated in all of one
patient's notes never becomes a reported proxy) and its document frequency per group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError, LabelError, SplitError

__all__ = ["Leakage", "LeakageFit", "Proxy", "MIN_PATIENTS", "fit_leakage", "fit_model", "fit_features", "ordered_scores", "leakage_split",
           "leakage_probe", "rank_proxies", "patient_doc_freq", "reportable_coef"]

log = logging.getLogger(__name__)

#: Default floor of distinct training patients an n-gram needs to be reported as a proxy.
MIN_PATIENTS = 10


@dataclass(frozen=True)
class Proxy:
    """One n-gram predictive of a group after redaction."""

    group: str
    ngram: str
    weight: float
    doc_freq: Mapping[str, float]
    n_patients: int = 0  # distinct training patients whose notes hold the n-gram

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "ngram": self.ngram, "weight": self.weight,
                "doc_freq": dict(self.doc_freq), "n_patients": self.n_patients}


@dataclass(frozen=True)
class Leakage:
    """Race predictability from the redacted text (a shared-layer condition result)."""

    result: Any  # racelens.shared.results.ConditionResult
    n_train: int
    n_val: int
    n_test: int
    n_features: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "n_train": self.n_train, "n_val": self.n_val,
                "n_features": self.n_features}


@dataclass(frozen=True, eq=False)
class LeakageFit:
    """The leakage model fitted on one condition's notes, and its score on the test notes.

    Attributes
    ----------
    result
        Macro and per-group AUC on the test notes with patient-bootstrap intervals.
    model
        The fitted note model (``TfidfLogReg`` unless another was named).
    split
        ``train``/``val``/``test`` per note.
    test_scores
        ``n_test x len(classes)`` probabilities, columns in the order of ``classes``.
    """

    result: Any  # racelens.shared.results.ConditionResult
    model: Any
    split: np.ndarray
    test_scores: np.ndarray

    def leakage(self) -> Leakage:
        """The check's view of this fit: the result and the sizes it came from."""
        vec = getattr(self.model, "vectorizer_", None)
        n_features = len(vec.vocabulary_) if vec is not None else 0
        return Leakage(self.result, int((self.split == "train").sum()),
                       int((self.split == "val").sum()), int((self.split == "test").sum()),
                       n_features)


def leakage_split(patient_ids: Sequence[Any], labels: Sequence[Any], *, seed: int = 0,
                  splits: Sequence[str] | None = None) -> np.ndarray:
    """The patient-level split every leakage fit uses (stratified by group, seeded).

    It depends on the set of patients, their groups and ``seed`` only, not on the row order;
    ``splits`` (a ``split`` column of the input) is validated and used as given.
    """
    from racelens.shared.splits import patient_split

    frame = pd.DataFrame({"patient_id": np.asarray(patient_ids, dtype=object),
                          "race": np.asarray(labels, dtype=object)})
    if splits is not None:
        frame["split"] = np.asarray(splits, dtype=object)
    return np.asarray(patient_split(frame, "patient_id", "race", seed=seed), dtype=object)


def ordered_scores(proba: np.ndarray, model_classes: Sequence[Any],
                   classes: Sequence[str]) -> np.ndarray:
    """``proba``'s columns in the order of ``classes`` (zeros for a group the model never saw)."""
    col = {str(c): j for j, c in enumerate(model_classes)}
    scores = np.zeros((len(proba), len(classes)))
    for k, c in enumerate(classes):
        if c in col:
            scores[:, k] = proba[:, col[c]]
    return scores


def fit_model(texts: Sequence[str], labels: np.ndarray, split: np.ndarray, *,
              model: str = "tfidf", model_params: Mapping[str, Any] | None = None,
              seed: int = 0) -> Any:
    """The leakage model fitted on the ``train`` notes, tuned on the ``val`` notes (unscored)."""
    from racelens.text.models.factory import make_model
    from racelens.text.models.notefile import take

    tr, va = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    m = make_model(model, random_state=seed, **dict(model_params or {}))
    return m.fit(take(texts, tr), labels[tr], val_texts=take(texts, va), val_y=labels[va])


def fit_leakage(texts: Sequence[str], labels: np.ndarray, patient_ids: np.ndarray,
                split: np.ndarray, classes: Sequence[str], condition: Any, *,
                model: str = "tfidf", model_params: Mapping[str, Any] | None = None,
                seed: int = 0, n_boot: int = 1000,
                extras: Mapping[str, Any] | None = None) -> LeakageFit:
    """Fit the leakage model on the training notes (tuned on validation) and score the test notes.

    Parameters
    ----------
    texts, labels, patient_ids, split
        One entry per note; ``split`` from :func:`leakage_split`.
    classes
        Group names: the order of the score columns and of the per-group AUCs.
    condition
        The :class:`racelens.shared.results.Condition` the notes are under.
    model, model_params
        ``tfidf`` (default), ``embeddings:DIR`` or ``transformer:DIR``
        (:func:`racelens.text.models.factory.make_model`) and its constructor arguments.
    seed, n_boot
        Seed of the model and the bootstrap; bootstrap resamples.
    """
    from racelens.shared.results import evaluate_condition
    from racelens.text.axis import place as place_on_axis
    from racelens.text.models.notefile import take

    te = np.flatnonzero(split == "test")
    m = fit_model(texts, labels, split, model=model, model_params=model_params, seed=seed)
    scores = ordered_scores(m.predict_proba(take(texts, te)), m.classes_, classes)
    res = evaluate_condition(condition, labels[te], scores, list(classes),
                             patient_ids=patient_ids[te], n_boot=n_boot, seed=seed,
                             extras=dict(extras) if extras else None,
                             strength=place_on_axis(condition))
    log.info("%s: macro AUC %.3f", condition.label, res.auc.macro.estimate)
    return LeakageFit(res, m, split, scores)


def patient_doc_freq(X: Any, patient_ids: Sequence[Any]) -> np.ndarray:
    """Per column of ``X`` (notes x n-grams), the number of distinct patients whose notes hold it.

    >>> import scipy.sparse as sp
    >>> patient_doc_freq(sp.csr_matrix([[1, 0], [2, 0], [0, 1]]), ["a", "a", "b"]).tolist()
    [1, 1]
    """
    import scipy.sparse as sp

    codes, uniques = pd.factorize(np.asarray(patient_ids, dtype=object), use_na_sentinel=False)
    n = len(codes)
    if n != X.shape[0]:
        raise DataError(f"{n} patient ids for {X.shape[0]} notes")
    owner = sp.csr_matrix((np.ones(n, dtype=np.int32), (codes, np.arange(n))),
                          shape=(len(uniques), n))
    X = sp.csr_matrix(X)
    # X's pattern with 1 where a value is not 0: its index arrays shared, not copied
    present = sp.csr_matrix(((X.data != 0).astype(np.int32), X.indices, X.indptr),
                            shape=X.shape)
    per_patient = (owner @ present).tocsc()
    per_patient.eliminate_zeros()
    return np.diff(per_patient.indptr)


def reportable_coef(coef: np.ndarray, n_patients: np.ndarray, min_patients: int) -> np.ndarray:
    """``coef`` with the columns of n-grams seen for fewer than ``min_patients`` patients zeroed
    (:func:`racelens.text.models.tfidf.top_ngrams` reports positive weights only)."""
    out = np.array(coef, dtype=float, copy=True)
    out[:, np.asarray(n_patients) < min_patients] = 0.0
    return out


def rank_proxies(model: Any, texts: Sequence[str], labels: np.ndarray, patient_ids: np.ndarray,
                 split: np.ndarray, *, top_k: int, min_patients: int = MIN_PATIENTS
                 ) -> list[Proxy]:
    """The ``top_k`` most positively weighted n-grams of each group in a fitted ``TfidfLogReg``.

    Only n-grams in the notes of at least ``min_patients`` distinct training patients take part
    (``min_patients=1``: every n-gram). Each proxy carries its document frequency per group over
    all ``texts``. Groups come in the model's class order, each group's n-grams by weight.
    """
    from racelens.text.models.tfidf import top_ngrams

    if min_patients < 1:
        raise ConfigError(f"min_patients must be >= 1, got {min_patients}")
    lr = getattr(model, "classifier_", None)
    if lr is None or not hasattr(lr, "coef_"):
        log.warning("the leakage model exposes no linear weights; proxies are not ranked")
        return []
    train = np.flatnonzero(split == "train")
    X = model.transform(texts)
    n_pat = patient_doc_freq(X[train], patient_ids[train])
    present = (X > 0).tocsc()
    vocab = model.vectorizer_.get_feature_names_out()
    index = {w: j for j, w in enumerate(vocab)}
    masks = {str(g): labels == g for g in model.classes_}
    coef = reportable_coef(lr.coef_, n_pat, min_patients)
    proxies: list[Proxy] = []
    for g, grams in top_ngrams(coef, vocab, [str(c) for c in lr.classes_], top_k).items():
        for gram, w in grams:
            col = present[:, index[gram]].toarray().ravel()
            df = {h: float(col[m].mean()) for h, m in masks.items()}
            proxies.append(Proxy(g, gram, w, df, int(n_pat[index[gram]])))
    return proxies


def fit_features(X: Any, labels: np.ndarray, patient_ids: np.ndarray, split: np.ndarray,
                 classes: Sequence[str], condition: Any, *, seed: int = 0, n_boot: int = 1000,
                 Cs: Sequence[float] | None = None,  # noqa: N803 - scikit-learn's name
                 extras: Mapping[str, Any] | None = None,
                 rows_of: Callable[[np.ndarray], Any] | None = None,
                 init: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> tuple[Any, np.ndarray, Any, float]:
    """The leakage model's classifier on features already computed (hashed TF-IDF on Spark,
    TF-IDF with terms deleted in ``text explain``): the same ``C`` search
    (:func:`racelens.text.models.tfidf.search_logreg` with ``TfidfLogReg``'s candidates unless
    ``Cs`` is given; one candidate is fitted once, without a validation round) and the same
    scoring as :func:`fit_leakage`.

    ``rows_of`` (optional) builds the features of the given rows instead of ``X[rows]``
    (``X`` may then be ``None``): each split's matrix is made when it is used, so the full
    matrix never needs to exist (``text explain``'s deletions). ``init`` (a fitted model's
    ``coef_`` and ``intercept_``) starts the solver there (:func:`search_logreg`'s ``init``).

    Returns the condition result, the test scores, the classifier and the chosen ``C``.
    """
    from racelens.shared.results import evaluate_condition
    from racelens.text.axis import place as place_on_axis
    from racelens.text.models.tfidf import TfidfLogReg, search_logreg

    tr, va, te = (np.flatnonzero(split == s) for s in ("train", "val", "test"))
    for name, rows in (("train", tr), ("test", te)):
        if len(rows) == 0:
            raise SplitError(f"the {name!r} split has no notes; give more patients")
    ref = TfidfLogReg(random_state=seed)  # the one leakage model's C, candidates and solver
    cs = ref.Cs if Cs is None else tuple(Cs)
    # one candidate: fitted once with it, no validation round
    tune = len(va) and len(cs) > 1
    take = rows_of if rows_of is not None else X.__getitem__
    lr, best_c, val_auc = search_logreg(take(tr), labels[tr], take(va) if tune else None,
                                        labels[va], C=cs[0] if len(cs) == 1 else ref.C, Cs=cs,
                                        max_iter=ref.max_iter, random_state=seed, init=init)
    scores = ordered_scores(lr.predict_proba(take(te)), lr.classes_, classes)
    res = evaluate_condition(condition, labels[te], scores, list(classes),
                             patient_ids=patient_ids[te], n_boot=n_boot, seed=seed,
                             extras=dict(extras) if extras else None,
                             strength=place_on_axis(condition))
    return res, scores, lr, best_c


def leakage_probe(texts: Sequence[str], labels: np.ndarray, patient_ids: Sequence[Any], *,
                  level: str = "explicit", seed: int = 0, n_boot: int = 1000,
                  min_df: int | float | None = None, min_patients: int = MIN_PATIENTS,
                  top_k: int = 10, splits: Sequence[str] | None = None,
                  model_params: Mapping[str, Any] | None = None) -> tuple[Leakage, list[Proxy]]:
    """Race predictability from ``texts`` by the one leakage model, and its top proxies.

    The number equals the text audit's for the same condition on the same table
    (:func:`fit_leakage` on :func:`leakage_split`). ``min_df`` (default: the model's) sets the
    vectoriser's note floor, like ``model_params={"min_df": ...}`` in the audit.

    Raises
    ------
    LabelError
        When the labels hold fewer than two groups.
    """
    from racelens.shared.cohort import ordered_groups
    from racelens.shared.results import Condition

    labels = np.asarray(labels, dtype=object)
    classes = ordered_groups(labels)
    if len(classes) < 2:
        raise LabelError("labels hold one group only; the leakage probe needs two")
    if min_patients < 1:
        raise ConfigError(f"min_patients must be >= 1, got {min_patients}")
    params = dict(model_params or {})
    if min_df is not None:
        params["min_df"] = min_df
    pids = np.asarray(patient_ids, dtype=object)
    split = leakage_split(pids, labels, seed=seed, splits=splits)
    cond = Condition("redact", {"level": level}) if level != "none" else Condition("original")
    fit = fit_leakage(list(texts), labels, pids, split, classes, cond, model_params=params,
                      seed=seed, n_boot=n_boot)
    proxies = rank_proxies(fit.model, texts, labels, pids, split, top_k=top_k,
                           min_patients=min_patients)
    return fit.leakage(), proxies
