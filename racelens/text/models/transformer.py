"""Transformer models for race leakage from notes: embeddings + LR, and fine-tuning.

Both load a model directory the user names (a clinical BERT, a sentence-transformers folder)
with ``local_files_only=True``: nothing is downloaded. Long notes are cut into overlapping chunks
of ``max_length`` tokens (``stride`` tokens of overlap, at most ``max_chunks`` per note);
embeddings are averaged over a note's chunks, and a fine-tuned classifier's chunk logits are
averaged per note (computed as the mean of chunk log-probabilities, which differs from the
mean logit by a per-chunk constant that softmax removes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from racelens.errors import ConfigError, DataError
from racelens.text.models.tfidf import _labels, fit_logreg, validate_texts

__all__ = ["EmbeddingLogReg", "TransformerClassifier", "chunk_notes"]

log = logging.getLogger(__name__)


def _load_tokenizer(model_dir: str | os.PathLike[str]) -> Any:
    from transformers import AutoTokenizer

    if not os.path.isdir(model_dir):
        raise ConfigError(f"{model_dir}: not a directory; name a local model folder "
                          "(racelens never downloads models)")
    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{model_dir}: cannot load a tokenizer ({exc})") from exc
    if not getattr(tok, "is_fast", False):
        raise ConfigError(f"{model_dir}: chunking long notes needs a fast tokenizer "
                          "(tokenizer.json)")
    return tok


def chunk_notes(tokenizer: Any, texts: Sequence[str], *, max_length: int, stride: int,
                max_chunks: int | None) -> tuple[dict[str, Any], np.ndarray]:
    """Tokenise notes into overlapping chunks padded to ``max_length``.

    Returns the encoded chunks (tensors) and, per chunk, the index of its note.
    """
    import torch

    if stride >= max_length // 2:
        raise ConfigError(f"stride ({stride}) must be below half of max_length ({max_length})")
    enc = tokenizer(list(texts), max_length=max_length, stride=stride, truncation=True,
                    padding="max_length", return_overflowing_tokens=True)
    note = np.asarray(enc.pop("overflow_to_sample_mapping"))
    keep = np.ones(len(note), dtype=bool)
    if max_chunks is not None:
        rank = np.zeros(len(note), dtype=int)
        for i in range(1, len(note)):
            rank[i] = rank[i - 1] + 1 if note[i] == note[i - 1] else 0
        keep = rank < max_chunks
    cols = {k: torch.tensor(np.asarray(v)[keep]) for k, v in enc.items()
            if k in ("input_ids", "attention_mask", "token_type_ids")}
    return cols, note[keep]


class _ChunkData:
    """A torch dataset of ``(inputs, label_index)`` chunk items."""

    def __init__(self, cols: dict[str, Any], labels: np.ndarray) -> None:
        self.cols, self.labels = cols, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[dict[str, Any], int]:
        return {k: v[i] for k, v in self.cols.items()}, int(self.labels[i])


def _per_note_mean(values: np.ndarray, note: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, values.shape[1]))
    np.add.at(out, note, values)
    counts = np.bincount(note, minlength=n)[:, None]
    return out / np.maximum(counts, 1)


class EmbeddingLogReg(ClassifierMixin, BaseEstimator):
    """Mean-pooled transformer embeddings + logistic regression.

    Parameters
    ----------
    model_dir
        A local ``transformers`` (or sentence-transformers) model directory.
    max_length, stride, max_chunks
        Chunking of long notes; a note's embedding is the mean of its chunks'.
    batch_size, device
        Encoding batch size and torch device (``auto``, ``cpu``, ``cuda``).
    C, Cs
        Logistic regression inverse regularisation; ``Cs`` tried on validation notes.
    random_state
        Seed of the solver.
    """

    def __init__(self, model_dir: str, *, max_length: int = 256, stride: int = 32,
                 max_chunks: int | None = 8, batch_size: int = 32, device: str = "auto",
                 C: float = 1.0, Cs: Sequence[float] = (0.1, 1.0, 10.0), max_iter: int = 2000,
                 random_state: int = 0) -> None:
        self.model_dir = model_dir
        self.max_length = max_length
        self.stride = stride
        self.max_chunks = max_chunks
        self.batch_size = batch_size
        self.device = device
        self.C = C
        self.Cs = Cs
        self.max_iter = max_iter
        self.random_state = random_state

    def _encoder(self) -> tuple[Any, Any, Any]:
        if not hasattr(self, "encoder_"):
            from transformers import AutoModel

            from racelens.shared.train.loop import resolve_device

            self.tokenizer_ = _load_tokenizer(self.model_dir)
            try:
                self.encoder_ = AutoModel.from_pretrained(str(self.model_dir),
                                                          local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{self.model_dir}: cannot load a model ({exc})") from exc
            self.device_ = resolve_device(self.device)
            self.encoder_.to(self.device_).eval()
        return self.tokenizer_, self.encoder_, self.device_

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One mean-pooled embedding per note (``n x hidden``)."""
        import torch

        tok, enc, dev = self._encoder()
        texts = validate_texts(texts)
        cols, note = chunk_notes(tok, texts, max_length=self.max_length, stride=self.stride,
                                 max_chunks=self.max_chunks)
        outs = []
        with torch.inference_mode():
            for s in range(0, len(note), self.batch_size):
                batch = {k: v[s:s + self.batch_size].to(dev) for k, v in cols.items()}
                hidden = enc(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                outs.append(pooled.float().cpu().numpy())
        emb = np.concatenate(outs) if outs else np.zeros((0, enc.config.hidden_size))
        return _per_note_mean(emb, note, len(texts))

    def fit(self, texts: Sequence[str], y: Sequence[str], *, val_texts: Sequence[str] | None = None,
            val_y: Sequence[str] | None = None) -> EmbeddingLogReg:
        """Embed the notes and fit the logistic regression (``C`` tuned on validation notes)."""
        y_arr = _labels(y)
        X = self.embed(texts)
        if len(X) != len(y_arr):
            raise DataError(f"{len(X)} notes but {len(y_arr)} labels")
        self.classifier_, self.C_, self.val_auc_ = fit_logreg(
            X, y_arr, val_texts, val_y, self.embed, C=self.C, Cs=self.Cs,
            max_iter=self.max_iter, random_state=self.random_state)
        self.classes_ = self.classifier_.classes_
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(self.embed(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]


class TransformerClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tune ``AutoModelForSequenceClassification`` from a local directory on note chunks.

    Training runs through :func:`racelens.shared.train.loop.train_classifier` (early stopping on
    validation macro AUC, best weights restored); every chunk carries its note's label, and at
    prediction time chunk logits are averaged per note.

    Parameters
    ----------
    model_dir
        A local model directory (weights, config, fast tokenizer).
    max_length, stride, max_chunks
        Chunking of long notes.
    epochs, lr, batch_size, weight_decay, patience
        Training hyper-parameters (:class:`racelens.shared.train.loop.TrainConfig`).
    device
        ``auto``, ``cpu``, ``cuda``.
    run_dir
        Where the training checkpoint is written (``None``: none).
    random_state
        Seed of the classifier head's initialisation, shuffling, dropout and the validation
        carve-out when no validation notes are given.
    """

    def __init__(self, model_dir: str, *, max_length: int = 512, stride: int = 64,
                 max_chunks: int | None = 16, epochs: int = 3, lr: float = 5e-5,
                 batch_size: int = 16, weight_decay: float = 0.01, patience: int = 2,
                 device: str = "auto", run_dir: str | None = None,
                 random_state: int = 0) -> None:
        self.model_dir = model_dir
        self.max_length = max_length
        self.stride = stride
        self.max_chunks = max_chunks
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.patience = patience
        self.device = device
        self.run_dir = run_dir
        self.random_state = random_state

    def _chunks(self, texts: Sequence[str], labels: np.ndarray | None = None
                ) -> tuple[_ChunkData, np.ndarray]:
        cols, note = chunk_notes(self.tokenizer_, validate_texts(texts),
                                 max_length=self.max_length, stride=self.stride,
                                 max_chunks=self.max_chunks)
        lab = labels[note] if labels is not None else np.zeros(len(note), dtype=int)
        return _ChunkData(cols, lab), note

    def fit(self, texts: Sequence[str], y: Sequence[str], *, val_texts: Sequence[str] | None = None,
            val_y: Sequence[str] | None = None) -> TransformerClassifier:
        """Fine-tune on the notes' chunks; validation notes drive early stopping."""
        from pathlib import Path

        from transformers import AutoModelForSequenceClassification

        from racelens.shared.train.loop import TrainConfig, seeded_rng, train_classifier

        texts = validate_texts(texts)
        y_arr = _labels(y)
        if len(texts) != len(y_arr):
            raise DataError(f"{len(texts)} notes but {len(y_arr)} labels")
        self.classes_ = np.unique(y_arr)
        index = {c: i for i, c in enumerate(self.classes_)}
        codes = np.asarray([index[v] for v in y_arr])
        if val_texts is None or val_y is None:
            rng = np.random.default_rng(self.random_state)
            val = rng.random(len(texts)) < 0.15
            val_texts = [t for t, v in zip(texts, val, strict=True) if v]
            vcodes = codes[val]
            texts = [t for t, v in zip(texts, val, strict=True) if not v]
            codes = codes[~val]
        else:
            vcodes = np.asarray([index.get(str(v), -1) for v in val_y])
            if (vcodes < 0).any():
                raise DataError("validation labels include a group absent from training")
        self.tokenizer_ = _load_tokenizer(self.model_dir)
        with seeded_rng(self.random_state):  # the new classifier head's initialisation
            try:
                self.model_ = AutoModelForSequenceClassification.from_pretrained(
                    str(self.model_dir), num_labels=len(self.classes_), local_files_only=True,
                    ignore_mismatched_sizes=True)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{self.model_dir}: cannot load a model ({exc})") from exc
        train_data, _ = self._chunks(texts, codes)
        val_data, _ = self._chunks(val_texts, vcodes)
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                             weight_decay=self.weight_decay, patience=self.patience,
                             seed=self.random_state, device=self.device, progress=False)
        self.train_result_ = train_classifier(
            self.model_, train_data, val_data, [str(c) for c in self.classes_], config,
            run_dir=Path(self.run_dir) if self.run_dir else None)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Per note: softmax of the mean of its chunks' logits."""
        from racelens.shared.train.loop import predict_proba

        check_is_fitted(self, "model_")
        texts = validate_texts(texts)
        data, note = self._chunks(texts)
        p = predict_proba(self.model_, data, batch_size=self.batch_size * 2, device=self.device)
        logp = _per_note_mean(np.log(np.clip(p, 1e-12, 1.0)), note, len(texts))
        logp -= logp.max(axis=1, keepdims=True)
        e = np.exp(logp)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]
