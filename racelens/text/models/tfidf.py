"""TF-IDF + logistic regression: the fast, default race-leakage model for notes.

Word 1-2 grams with sublinear term frequency; n-grams seen in fewer than ``min_df`` notes are
dropped, which both regularises and keeps rare strings (names, identifiers) out of the
vocabulary and so out of any proxy list. The inverse-regularisation ``C`` is chosen on
validation notes by macro one-vs-rest AUC when they are given.

Example
-------
>>> m = TfidfLogReg(min_df=1).fit(["aa bb", "cc dd", "aa xx", "cc yy"], ["A", "B", "A", "B"])
>>> m.predict_proba(["aa zz"]).argmax(1).tolist()
[0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from racelens.errors import ConfigError, DataError, LabelError

__all__ = ["TfidfLogReg", "make_vectorizer", "top_ngrams", "validate_texts", "fit_logreg",
           "search_logreg", "SOLVER"]

# Tokens of 2+ word characters, keeping bracketed placeholders such as "[RACE]" as one token so
# the redaction marker itself is visible (and can be removed) rather than split into "race".
TOKEN_PATTERN = r"(?u)\[\w+\]|\b\w\w+\b"

#: The logistic regression solver of every note model (:func:`search_logreg`): Newton steps
#: with conjugate-gradient inner solves, which on long notes' TF-IDF rows need fewer matrix
#: products than L-BFGS from zeros (``benchmarks/bench_logreg.py``).
SOLVER = "newton-cg"


def make_vectorizer(*, ngram_range: tuple[int, int] = (1, 2), min_df: int | float = 2,
                    max_features: int | None = 100_000, sublinear_tf: bool = True
                    ) -> TfidfVectorizer:
    """The TF-IDF vectorizer used by racelens's text models and redaction checks.

    A :class:`~racelens.text.models.vectorize.FastTfidfVectorizer`: scikit-learn's
    ``TfidfVectorizer`` with a faster n-gram count and the same vocabulary and matrices.
    """
    from racelens.text.models.vectorize import FastTfidfVectorizer

    return FastTfidfVectorizer(ngram_range=ngram_range, min_df=min_df, max_features=max_features,
                           sublinear_tf=sublinear_tf, lowercase=True,
                           token_pattern=TOKEN_PATTERN, dtype=np.float32)


def validate_texts(texts: Any, name: str = "texts") -> Sequence[str]:
    """Return ``texts`` as a list of strings; missing notes become empty strings.

    A :class:`racelens.text.models.notefile.NoteFile` (notes on disk, strings by construction)
    is returned as it is: it is read one note at a time where it is used.
    """
    from racelens.text.models.notefile import NoteFile

    if isinstance(texts, str):
        raise DataError(f"{name} must be a sequence of notes, not one string")
    if isinstance(texts, NoteFile):
        return texts
    out = []
    for t in texts:
        out.append(t if isinstance(t, str) else "")
    return out


def _labels(y: Any, name: str = "y") -> np.ndarray:
    arr = np.asarray([str(v) for v in y], dtype=object)
    if len(np.unique(arr)) < 2:
        raise LabelError(f"{name} holds one group only; race predictability needs at least two")
    return arr


def _macro_auc(y: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> float:
    from racelens.shared.metrics import macro_auc

    return float(macro_auc(y, proba, list(classes)))


def top_ngrams(coef: np.ndarray, vocabulary: Sequence[str], classes: Sequence[str],
               k: int = 20) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` n-grams with the largest positive weight for each class.

    ``coef`` is a fitted logistic regression's ``coef_``; a binary model's single row is the
    second class's weight and its negation the first's.
    """
    coef = np.asarray(coef)
    if coef.shape[0] == 1 and len(classes) == 2:
        coef = np.vstack([-coef[0], coef[0]])
    vocab = np.asarray(vocabulary, dtype=object)
    out: dict[str, list[tuple[str, float]]] = {}
    for i, g in enumerate(classes):
        order = np.argsort(-coef[i], kind="stable")[:k]
        out[str(g)] = [(str(vocab[j]), float(coef[i, j])) for j in order if coef[i, j] > 0]
    return out


def search_logreg(X: Any, y: np.ndarray, Xv: Any | None, yv: Sequence[str] | None, *, C: float,
                  Cs: Sequence[float], max_iter: int, random_state: int,
                  init: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[LogisticRegression, float, dict[float, float]]:
    """Logistic regression on features ``X``; with validation features, pick ``C`` from ``Cs``.

    The one ``C`` search of racelens's note models (TF-IDF, embeddings, the Spark path's hashed
    TF-IDF): candidates fitted on ``X``, the best validation macro AUC wins (ties go to the
    smaller, more regularised ``C``), and that candidate's fitted classifier is kept. Returns the
    classifier, the chosen ``C`` and the validation macro AUC per candidate.

    The solver is scikit-learn's ``newton-cg`` (:data:`SOLVER`), and the candidates are fitted
    as a regularisation path, as scikit-learn's ``LogisticRegressionCV`` fits its ``Cs``: in
    increasing order of ``C``, each run started from the previous candidate's solution. The
    problem is strictly convex, so every start reaches the same optimum within the solver's
    tolerance; with 2,100 training notes of 10 kB the path took 0.56 of ``lbfgs``'s time from
    zeros (7,000: 0.40) and ended nearer the optimum (``benchmarks/bench_logreg.py``).

    ``init`` (``coef_`` and ``intercept_`` of a model with the same classes and features)
    starts the first candidate there instead of at zero: a re-fit on slightly changed features
    (``text explain``'s deletions) from the model it changes.
    """
    from threadpoolctl import threadpool_limits

    def lr(c: float, start: tuple[np.ndarray, np.ndarray] | None) -> LogisticRegression:
        m = LogisticRegression(C=c, solver=SOLVER, max_iter=max_iter, random_state=random_state,
                               warm_start=start is not None)
        if start is not None:  # scikit-learn's warm start reads these before fitting
            m.coef_, m.intercept_ = (np.array(a, copy=True) for a in start)
        m.fit(X, y)
        m.set_params(warm_start=False)  # a later fit of the kept model starts afresh
        return m

    chosen, val_auc = float(C), {}
    # one BLAS thread: the fits are small sparse problems, and text explain runs several of
    # them side by side in worker processes (threads per worker would only contend)
    with threadpool_limits(1):
        if Xv is not None and yv is not None and len(set(map(str, yv))) >= 2:
            yv = np.asarray([str(v) for v in yv], dtype=object)
            fitted: dict[float, LogisticRegression] = {}
            start = init
            for c in sorted({float(c) for c in Cs}):
                m = fitted[c] = lr(c, start)
                start = (m.coef_, m.intercept_)
                val_auc[c] = _macro_auc(yv, m.predict_proba(Xv), m.classes_)
            chosen = max(val_auc, key=lambda c: (val_auc[c], -c))
            return fitted[chosen], chosen, val_auc
        return lr(chosen, init), chosen, val_auc


def fit_logreg(X: Any, y: np.ndarray, val_texts: Sequence[str] | None, val_y: Sequence[str] | None,
               featurize: Any, *, C: float, Cs: Sequence[float], max_iter: int,
               random_state: int) -> tuple[LogisticRegression, float, dict[float, float]]:
    """Fit logistic regression on ``X``; with validation notes (featurised by ``featurize``),
    pick ``C`` from ``Cs`` first (:func:`search_logreg`)."""
    Xv = None
    if val_texts is not None and val_y is not None and len(set(map(str, val_y))) >= 2:
        Xv = featurize(validate_texts(val_texts, "val_texts"))
    return search_logreg(X, y, Xv, val_y, C=C, Cs=Cs, max_iter=max_iter,
                         random_state=random_state)


class TfidfLogReg(ClassifierMixin, BaseEstimator):
    """TF-IDF n-grams + multinomial logistic regression.

    Parameters
    ----------
    ngram_range, min_df, max_features, sublinear_tf
        Passed to :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.
    C
        Inverse regularisation strength used when no validation notes are given.
    Cs
        Values of ``C`` tried on the validation notes (best macro AUC wins).
    max_iter
        Logistic regression iterations.
    random_state
        Seed of the solver.
    """

    def __init__(self, *, ngram_range: tuple[int, int] = (1, 2), min_df: int | float = 2,
                 max_features: int | None = 100_000, sublinear_tf: bool = True, C: float = 1.0,
                 Cs: Sequence[float] = (0.1, 1.0, 10.0), max_iter: int = 2000,
                 random_state: int = 0) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.Cs = Cs
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, texts: Sequence[str], y: Sequence[str], *, val_texts: Sequence[str] | None = None,
            val_y: Sequence[str] | None = None) -> TfidfLogReg:
        """Fit the vectorizer and classifier on training notes; tune ``C`` on validation notes."""
        texts = validate_texts(texts)
        y_arr = _labels(y)
        if len(texts) != len(y_arr):
            raise DataError(f"{len(texts)} notes but {len(y_arr)} labels")
        if not self.Cs or any(c <= 0 for c in self.Cs) or self.C <= 0:
            raise ConfigError("C and every value of Cs must be positive")
        try:
            self.vectorizer_ = make_vectorizer(ngram_range=tuple(self.ngram_range),
                                               min_df=self.min_df, max_features=self.max_features,
                                               sublinear_tf=self.sublinear_tf)
            X = self.vectorizer_.fit_transform(texts)
        except ValueError as exc:  # empty vocabulary
            raise DataError(f"no n-gram occurs in at least min_df={self.min_df} notes ({exc}); "
                            "lower min_df or give more notes") from exc
        self.classifier_, self.C_, self.val_auc_ = fit_logreg(
            X, y_arr, val_texts, val_y, self.vectorizer_.transform, C=self.C, Cs=self.Cs,
            max_iter=self.max_iter, random_state=self.random_state)
        self.classes_ = self.classifier_.classes_
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        """TF-IDF features of ``texts`` (sparse)."""
        check_is_fitted(self, "vectorizer_")
        return self.vectorizer_.transform(validate_texts(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of each group (columns in ``classes_`` order)."""
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(self.transform(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def top_ngrams(self, k: int = 20) -> dict[str, list[tuple[str, float]]]:
        """The ``k`` most positively weighted n-grams per group."""
        check_is_fitted(self, "classifier_")
        return top_ngrams(self.classifier_.coef_, self.vectorizer_.get_feature_names_out(),
                          list(self.classes_), k)
