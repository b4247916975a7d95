"""Race-leakage models for notes, scikit-learn style (``fit``, ``predict_proba``).

- :class:`~racelens.text.models.tfidf.TfidfLogReg` (default): TF-IDF word 1-2 grams + LR.
- :class:`~racelens.text.models.transformer.EmbeddingLogReg`: mean-pooled embeddings of a local
  transformer / sentence-transformers directory + LR.
- :class:`~racelens.text.models.transformer.TransformerClassifier`: fine-tuning of a local
  ``AutoModelForSequenceClassification`` through the shared training loop.

:func:`make_model` turns the CLI's ``--model`` spec (``tfidf``, ``embeddings:DIR``,
``transformer:DIR``) into one of them.

Example
-------
>>> type(make_model("tfidf")).__name__
'TfidfLogReg'
"""

from __future__ import annotations

from typing import Any

from racelens.errors import ConfigError
from racelens.text.models.tfidf import TfidfLogReg
from racelens.text.models.transformer import EmbeddingLogReg, TransformerClassifier

__all__ = ["TfidfLogReg", "EmbeddingLogReg", "TransformerClassifier", "make_model"]


def make_model(spec: str = "tfidf", *, random_state: int = 0, **params: Any) -> Any:
    """Build an unfitted note model from ``tfidf``, ``embeddings:DIR`` or ``transformer:DIR``.

    Extra keyword ``params`` are passed to the model's constructor.
    """
    kind, _, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "tfidf" and not path:
        return TfidfLogReg(random_state=random_state, **params)
    if kind in ("embeddings", "transformer"):
        if not path:
            raise ConfigError(f"--model {spec!r}: name the local model directory, "
                              f"e.g. {kind}:/models/clinical-bert")
        cls = EmbeddingLogReg if kind == "embeddings" else TransformerClassifier
        return cls(path, random_state=random_state, **params)
    raise ConfigError(f"unknown model {spec!r}; use tfidf, embeddings:DIR or transformer:DIR")
