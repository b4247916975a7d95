"""Word attributions of a fine-tuned local transformer: captum ``LayerIntegratedGradients``.

The attribution is taken on the input embedding layer (captum's ``LayerIntegratedGradients``
on ``get_input_embeddings()``), against a baseline of the same length with every token but
``[CLS]``/``[SEP]`` replaced by ``[PAD]``, for the note's own group's *centred* logit (the logit
minus the mean over groups, as for the linear model). Sub-word attributions (summed over the
embedding dimension) are merged to words through the fast tokenizer's ``word_ids``; a note's
attribution is the mean over its chunks (its score is the mean of its chunks' log-probabilities).
The completeness delta reported is captum's convergence delta: the largest gap, over chunks,
between the summed attributions and the score difference to the baseline.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["transformer_terms"]

_WORD = re.compile(r"\w\w+")


def _note_words(model: Any, lig: Any, text: str, target: int, n_steps: int
                ) -> tuple[dict[str, float], float]:
    import torch

    tok = model.tokenizer_
    enc = tok(text, max_length=model.max_length, stride=model.stride, truncation=True,
              padding="max_length", return_overflowing_tokens=True, return_offsets_mapping=True,
              return_tensors="pt")
    n = enc["input_ids"].shape[0] if model.max_chunks is None else min(
        enc["input_ids"].shape[0], model.max_chunks)
    special = {tok.cls_token_id, tok.sep_token_id}
    words: dict[str, float] = defaultdict(float)
    worst = 0.0
    for k in range(n):
        ids = enc["input_ids"][k:k + 1]
        mask = enc["attention_mask"][k:k + 1]
        base = torch.where(torch.isin(ids, torch.tensor(sorted(special))), ids,
                           torch.full_like(ids, tok.pad_token_id))
        attr, delta = lig.attribute(ids, baselines=base, additional_forward_args=(mask,),
                                    target=target, n_steps=n_steps,
                                    return_convergence_delta=True)
        worst = max(worst, float(delta.abs().max()))
        per_token = attr.sum(-1)[0].detach().numpy()
        offsets = enc["offset_mapping"][k].tolist()
        spans: dict[int, list[int]] = {}
        for t, w in enumerate(enc.word_ids(k)):
            if w is not None and mask[0, t]:
                spans.setdefault(w, []).append(t)
        for toks in spans.values():
            start, end = offsets[toks[0]][0], offsets[toks[-1]][1]
            word = text[start:end].lower()
            if _WORD.fullmatch(word):
                words[word] += float(per_token[toks].sum()) / n
    return dict(words), worst


def transformer_terms(model: Any, texts: Sequence[str], labels: np.ndarray,
                      patient_ids: np.ndarray, rows: np.ndarray, *, min_patients: int, top: int,
                      seed: int = 0, n_steps: int = 32) -> tuple[list[Any], float]:
    """The ``top`` (word, group) pairs by mean attribution over the group's notes in ``rows``.

    ``model`` is a fitted :class:`racelens.text.models.transformer.TransformerClassifier`.
    Returns the terms (:class:`racelens.text.explain.terms.TermWeight`) and the completeness
    delta. A word is listed only when at least ``min_patients`` distinct patients' notes hold it.
    """
    import torch
    from captum.attr import LayerIntegratedGradients

    from racelens.shared.train.loop import seeded_rng
    from racelens.text.explain.terms import TermWeight

    net = model.model_.eval().to("cpu")
    groups = [str(c) for c in model.classes_]

    def forward(input_ids: Any, attention_mask: Any) -> Any:
        logits = torch.log_softmax(net(input_ids=input_ids, attention_mask=attention_mask).logits,
                                   dim=-1)
        return logits - logits.mean(dim=-1, keepdim=True)

    lig = LayerIntegratedGradients(forward, net.get_input_embeddings())
    sums: dict[tuple[str, str], float] = defaultdict(float)
    count = {g: 0 for g in groups}
    worst = 0.0
    with seeded_rng(seed):
        for i in rows:
            g = str(labels[i])
            if g not in count:
                continue
            words, delta = _note_words(model, lig, texts[i] or "", groups.index(g), n_steps)
            worst = max(worst, delta)
            count[g] += 1
            for w, a in words.items():
                sums[(w, g)] += a
    owners: dict[str, set[Any]] = defaultdict(set)
    per_group: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t, p, g in zip(texts, patient_ids, labels, strict=True):
        for w in set(_WORD.findall((t or "").lower())):
            owners[w].add(p)
            per_group[w][str(g)] += 1
    n_group = {g: int((labels == g).sum()) for g in groups}
    out = [TermWeight(w, g, s / count[g], len(owners[w]),
                      {h: per_group[w][h] / max(n_group[h], 1) for h in groups})
           for (w, g), s in sums.items()
           if count[g] and s > 0 and len(owners[w]) >= min_patients]
    out.sort(key=lambda t: (-t.weight, t.term, t.group))
    return out[:top], worst
