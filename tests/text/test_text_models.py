"""Note models: TF-IDF + LR, embeddings + LR and a fine-tuned tiny transformer, all offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from racelens.errors import ConfigError, LabelError
from racelens.shared.metrics import macro_auc
from racelens.text.models.factory import (
    EmbeddingLogReg,
    TfidfLogReg,
    TransformerClassifier,
    make_model,
)
from racelens.text.models.transformer import chunk_notes

CUES = {"Black": "sickle trait noted", "White": "lives lakeside cabin"}
FILL = ["chest pain resolved", "no fever", "lungs clear", "abdomen soft", "follow up clinic",
        "metformin continued", "ct negative", "walking well", "diet tolerated", "vitals stable"]


def notes(n: int, seed: int, *, cue: float = 0.9) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, ys = [], []
    for i in range(n):
        g = "Black" if i % 2 else "White"
        parts = list(rng.choice(FILL, size=5, replace=False))
        if rng.random() < cue:
            parts.insert(int(rng.integers(0, 5)), CUES[g])
        texts.append(". ".join(parts))
        ys.append(g)
    return texts, ys


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer, hidden-32 BERT with a WordPiece tokenizer trained here; nothing downloaded."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    d = tmp_path_factory.mktemp("tiny-bert")
    texts, _ = notes(200, 99)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=200,
                                                             special_tokens=special))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")),
                                                 ("[SEP]", tok.token_to_id("[SEP]"))])
    BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                      cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
                      ).save_pretrained(d)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)  # test-only: the random init of the saved base model
    BertModel(cfg).save_pretrained(d)
    return str(d)


def test_tfidf_learns_cues_and_tunes_c():
    tr, ytr = notes(200, 0)
    va, yva = notes(60, 1)
    te, yte = notes(100, 2)
    m = TfidfLogReg(Cs=(0.01, 1.0, 100.0)).fit(tr, ytr, val_texts=va, val_y=yva)
    assert set(m.val_auc_) == {0.01, 1.0, 100.0} and m.C_ in m.val_auc_
    assert list(m.classes_) == ["Black", "White"]
    assert macro_auc(np.asarray(yte), m.predict_proba(te), list(m.classes_)) > 0.9
    top = m.top_ngrams(3)
    assert {"sickle", "trait", "sickle trait"} & {g for g, _ in top["Black"]}
    assert {"lakeside", "cabin", "lakeside cabin"} & {g for g, _ in top["White"]}
    # same seed, same fit
    again = TfidfLogReg(Cs=(0.01, 1.0, 100.0)).fit(tr, ytr, val_texts=va, val_y=yva)
    np.testing.assert_array_equal(m.predict_proba(te), again.predict_proba(te))


def _objective(m, X, y) -> float:  # noqa: ANN001 - scikit-learn's multinomial objective
    from sklearn.metrics import log_loss

    w = np.asarray(m.coef_, dtype=float)
    return log_loss(y, m.predict_proba(X), labels=m.classes_) + (w * w).sum() / (
        2 * m.C * X.shape[0])


def test_c_path_reaches_each_candidates_optimum():
    from sklearn.linear_model import LogisticRegression

    from racelens.text.models.tfidf import SOLVER, make_vectorizer, search_logreg

    tr, ytr = notes(300, 0)
    va, yva = notes(100, 1)
    vec = make_vectorizer(min_df=1)
    X, Xv = vec.fit_transform(tr), vec.transform(va)
    y = np.asarray(ytr, dtype=object)
    m, chosen, val = search_logreg(X, y, Xv, yva, C=1.0, Cs=(10.0, 0.01, 1.0), max_iter=2000,
                                   random_state=0)
    # fitted as a path, in increasing C; the best validation AUC wins, ties to the smaller C
    assert list(val) == [0.01, 1.0, 10.0] and chosen == max(val, key=lambda c: (val[c], -c))
    assert m.C == chosen and m.solver == SOLVER and not m.warm_start
    start = None
    for c in val:  # each candidate, started from the previous one's solution, at its optimum
        one, _, _ = search_logreg(X, y, None, None, C=c, Cs=(c,), max_iter=2000,
                                  random_state=0, init=start)
        start = (one.coef_, one.intercept_)
        tight = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(X, y)
        assert _objective(one, X, y) == pytest.approx(_objective(tight, X, y), rel=1e-3)
        if c == chosen:  # the path's own candidate, fitted again the same way
            np.testing.assert_array_equal(one.coef_, m.coef_)
    tight = LogisticRegression(C=chosen, tol=1e-10, max_iter=10_000).fit(X, y)
    assert _objective(m, X, y) == pytest.approx(_objective(tight, X, y), rel=1e-3)
    assert abs(macro_auc(np.asarray(yva), m.predict_proba(Xv), list(m.classes_))
               - macro_auc(np.asarray(yva), tight.predict_proba(Xv), list(m.classes_))) < 1e-3
    # a re-fit started at its optimum (init) stops at once; from zeros it does not
    loose = LogisticRegression(C=10.0, tol=1e-10, max_iter=10_000).fit(X, y)
    cold, _, _ = search_logreg(X, y, None, None, C=10.0, Cs=(10.0,), max_iter=2000,
                               random_state=0)
    again, _, _ = search_logreg(X, y, None, None, C=10.0, Cs=(10.0,), max_iter=2000,
                                random_state=0, init=(loose.coef_, loose.intercept_))
    assert again.n_iter_[0] <= 1 < cold.n_iter_[0]
    np.testing.assert_allclose(again.coef_, loose.coef_, atol=1e-6)


def test_tfidf_validation_errors():
    with pytest.raises(NotFittedError):
        TfidfLogReg().predict_proba(["x"])
    with pytest.raises(LabelError, match="one group"):
        TfidfLogReg().fit(["aa bb", "aa cc"], ["White", "White"])
    with pytest.raises(ConfigError, match="positive"):
        TfidfLogReg(C=0).fit(["aa bb", "cc dd"], ["A", "B"])


def test_make_model_specs(tiny_bert):
    assert isinstance(make_model("tfidf"), TfidfLogReg)
    assert make_model(f"embeddings:{tiny_bert}").model_dir == tiny_bert
    assert isinstance(make_model(f"transformer:{tiny_bert}", epochs=1), TransformerClassifier)
    for bad in ("bow", "transformer", "transformer:"):
        with pytest.raises(ConfigError):
            make_model(bad)
    with pytest.raises(ConfigError, match="not a directory"):
        EmbeddingLogReg("/nonexistent/model").fit(["aa"], ["A", "B"][:1] + ["B"])


def test_chunking_covers_long_notes(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert, local_files_only=True)
    long_note = " ".join(["chest pain resolved"] * 40)
    cols, note = chunk_notes(tok, ["no fever", long_note], max_length=16, stride=4,
                             max_chunks=None)
    assert note[0] == 0 and (note == 1).sum() > 3
    assert cols["input_ids"].shape == (len(note), 16)
    _, capped = chunk_notes(tok, ["no fever", long_note], max_length=16, stride=4, max_chunks=2)
    assert list(capped) == [0, 1, 1]
    with pytest.raises(ConfigError, match="stride"):
        chunk_notes(tok, ["x"], max_length=16, stride=8, max_chunks=None)


def test_embedding_logreg_on_tiny_bert(tiny_bert):
    tr, ytr = notes(120, 3)
    te, yte = notes(60, 4)
    m = EmbeddingLogReg(tiny_bert, max_length=32, stride=4, device="cpu", C=10.0).fit(tr, ytr)
    emb = m.embed(te[:3])
    assert emb.shape == (3, 32) and np.isfinite(emb).all()
    p = m.predict_proba(te)
    assert p.shape == (60, 2) and np.allclose(p.sum(1), 1)
    # random frozen features of a 2-layer model still separate planted cue phrases
    assert macro_auc(np.asarray(yte), p, list(m.classes_)) > 0.7


def test_transformer_classifier_fine_tunes(tiny_bert, tmp_path):
    tr, ytr = notes(100, 5)
    va, yva = notes(30, 6)
    te, yte = notes(40, 7)
    m = TransformerClassifier(tiny_bert, max_length=32, stride=4, max_chunks=2, epochs=3,
                              lr=3e-3, batch_size=16, device="cpu", run_dir=str(tmp_path),
                              random_state=0)
    m.fit(tr, ytr, val_texts=va, val_y=yva)
    assert 1 <= m.train_result_.best_epoch <= 3 and (tmp_path / "checkpoint.pt").exists()
    p = m.predict_proba(te)
    assert p.shape == (40, 2) and np.allclose(p.sum(1), 1)
    assert macro_auc(np.asarray(yte), p, list(m.classes_)) > 0.8
    # chunk logits averaged: a long note's probabilities match the mean of its chunk logits
    long_note = ". ".join([CUES["Black"]] + FILL * 3)
    data, note = m._chunks([long_note])
    assert len(note) > 1
    model = m.model_.eval()
    with torch.no_grad():
        logits = model(**{k: v for k, v in data.cols.items()}).logits.mean(0)
    np.testing.assert_allclose(m.predict_proba([long_note])[0],
                               torch.softmax(logits, 0).numpy(), atol=1e-5)
