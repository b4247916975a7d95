"""``racelens text explain``: which words, kinds of words and sections carry race after redaction.

:func:`run_text_explain` loads a note table as the text audit does (same labels, same patient
split by :func:`racelens.text.check.leakage.leakage_split`), fits the one leakage model on the
original and on the redacted notes (so ``original`` and ``redacted`` are the audit's numbers for
the same table and seed), and then asks of the redacted-text model:

1. **terms** - per group, the n-grams that contribute most to its score (exact for the linear
   model: :mod:`racelens.text.explain.terms`; captum ``LayerIntegratedGradients`` merged to words
   for a local transformer: :mod:`racelens.text.explain.transformer`);
2. **deletion** - the AUC after deleting the top-k terms from every note, against k random
   terms of matched document frequency (k = 10, 20, 50, 100);
3. **categories** - each kind of term (:mod:`racelens.text.explain.categories`) and the AUC with
   all the vocabulary's terms of that kind removed (deletions in the model's feature space,
   re-fitted with the ``C`` chosen on the redacted notes, so a drop is the terms', not a new
   regularisation's);
4. **sections** - the AUC of each note section alone (:mod:`racelens.text.explain.sections`);
5. **placeholder** - the AUC of a model that sees only the mention pattern, for the replacement
   modes ``token``, ``category`` and ``delete`` (:mod:`racelens.text.explain.placeholder`), with
   the full model's AUC for each mode beside it.

Every AUC is a ``result.json`` ``auc`` block (macro and per group, patient-bootstrap intervals).
``OUT/explain.json`` (schema ``racelens.explain/1``, ``modality: "text"``) holds aggregates,
n-grams seen for at least ``min_patients`` patients and section names only: no note text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, LabelError, SplitError

__all__ = ["ExplainConfig", "run_text_explain", "EXPLAIN_SCHEMA", "EXPLAIN_FILE"]

log = logging.getLogger(__name__)

EXPLAIN_SCHEMA = "racelens.explain/1"
EXPLAIN_FILE = "explain.json"


@dataclass(frozen=True)
class ExplainConfig:
    """Everything one ``text explain`` needs.

    Parameters
    ----------
    input
        A note table file (CSV, parquet, JSON lines) or a :class:`pandas.DataFrame`.
    text_col, label_col, patient_col, sample_col
        Column names, as in :class:`racelens.text.audit.TextAuditConfig`.
    level
        Redaction level of the explained notes: ``explicit`` or ``extended``.
    model
        ``tfidf`` (exact linear attributions) or ``transformer:DIR`` (a local fine-tunable
        checkpoint; integrated gradients on its embeddings).
    min_patients
        A term is listed only when at least this many distinct patients have it.
    ks
        Deletion-curve sizes.
    n_terms
        Terms listed (at least 100 when there are that many).
    out
        Run folder for ``explain.json`` (``None``: write nothing).
    collapse, race_source, consistency, seed, n_boot, model_params
        As in the text audit.
    progress
        Called with a one-line message (aggregates only) as each stage starts.
    """

    input: Any
    text_col: str = "text"
    label_col: str = "race"
    patient_col: str = "patient_id"
    sample_col: str | None = None
    level: str = "explicit"
    model: str = "tfidf"
    min_patients: int = 10
    ks: Sequence[int] = (10, 20, 50, 100)
    n_terms: int = 200
    min_section_notes: int = 30
    max_sections: int = 15
    out: str | Path | None = None
    collapse: str = "abw"
    race_source: str = "auto"
    consistency: str = "drop"
    seed: int = 0
    n_boot: int = 1000
    model_params: Any = None
    progress: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if self.level not in ("explicit", "extended"):
            raise ConfigError(f"level must be 'explicit' or 'extended', got {self.level!r}")
        if self.min_patients < 1:
            raise ConfigError(f"min_patients must be >= 1, got {self.min_patients}")
        if not self.ks or any(int(k) < 1 for k in self.ks):
            raise ConfigError(f"ks must be positive term counts, got {list(self.ks)}")
        kind = self.model.partition(":")[0].strip().lower()
        if kind not in ("tfidf", "transformer"):
            raise ConfigError(f"--model {self.model!r}: text explain takes tfidf or "
                              "transformer:DIR")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("progress")
        d["input"] = "<DataFrame>" if isinstance(self.input, pd.DataFrame) else str(self.input)
        d["out"] = None if self.out is None else str(self.out)
        d["ks"] = [int(k) for k in self.ks]
        return d


class _Data:
    """The labelled notes, their split and the fitting helpers every stage shares."""

    def __init__(self, cfg: ExplainConfig) -> None:
        from racelens.text.audit import TextAuditConfig, _require_two_groups
        from racelens.text.check.leakage import leakage_split
        from racelens.text.sources import from_table

        self.cfg = cfg
        self.cohort = from_table(cfg.input, text_col=cfg.text_col, race_col=cfg.label_col,
                                 patient_col=cfg.patient_col, sample_col=cfg.sample_col,
                                 race_source=cfg.race_source, collapse=cfg.collapse,
                                 consistency=cfg.consistency)  # type: ignore[arg-type]
        _require_two_groups(TextAuditConfig(cfg.input, label_col=cfg.label_col,
                                            collapse=cfg.collapse), self.cohort)
        t = self.cohort.table
        self.y = t["race"].astype(str).to_numpy(object)
        self.pids = t["patient_id"].to_numpy(object)
        self.split = leakage_split(t["patient_id"], t["race"].astype(str), seed=cfg.seed,
                                   splits=t["split"] if "split" in t.columns else None)
        self.classes = sorted(set(self.y))
        self.texts = t["text"].tolist()
        self.test = np.flatnonzero(self.split == "test")

    def fit(self, texts: list[str], cond: Any, *, rows: np.ndarray | None = None,
            model: str | None = None) -> Any:
        from racelens.text.check.leakage import fit_leakage

        cfg = self.cfg
        model = model or cfg.model
        params = cfg.model_params if model == cfg.model else None  # a transformer's are its own
        rows = np.arange(len(self.y)) if rows is None else rows
        return fit_leakage(texts, self.y[rows], self.pids[rows], self.split[rows], self.classes,
                           cond, model=model, model_params=params, seed=cfg.seed,
                           n_boot=cfg.n_boot)

    def fit_x(self, X: Any, cond: Any, C: float) -> dict[str, Any]:  # noqa: N803
        """The AUC of the linear model re-fitted on features ``X`` with the given ``C``."""
        from racelens.text.check.leakage import fit_features

        res, _, _, _ = fit_features(X, self.y, self.pids, self.split, self.classes, cond,
                                    seed=self.cfg.seed, n_boot=self.cfg.n_boot, Cs=(C,))
        return res.auc.to_dict()


def _say(cfg: ExplainConfig, message: str) -> None:
    log.info("text explain: %s", message)
    if cfg.progress is not None:
        cfg.progress(message)


def _deletion(data: _Data, X: Any, C: float, vocab: Sequence[str], ranked: list[str],  # noqa: N803
              doc_freq: np.ndarray, notes: list[str]) -> list[dict[str, Any]]:
    from racelens.shared.results import Condition
    from racelens.text.explain.terms import columns_of, delete_columns, matched_random_terms

    out = []
    for k in sorted(int(k) for k in data.cfg.ks):
        if k > len(ranked):
            notes.append(f"deletion k={k} skipped: only {len(ranked)} terms are listed")
            continue
        top = ranked[:k]
        seed = int(np.random.SeedSequence([data.cfg.seed, k]).generate_state(1)[0])
        rand = matched_random_terms(top, vocab, doc_freq, seed=seed)
        row: dict[str, Any] = {"k": k}
        for name, terms in (("top", top), ("random", rand)):
            cond = Condition("delete_terms", {"k": k, "which": name})
            row[name] = data.fit_x(delete_columns(X, columns_of(terms, vocab)), cond, C)
        row["n_random"] = len(rand)
        out.append(row)
    return out


def _categories(data: _Data, X: Any, C: float, vocab: Sequence[str],  # noqa: N803
                notes: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    from racelens.shared.results import Condition
    from racelens.text.explain.categories import CATEGORY_ORDER, categorize
    from racelens.text.explain.terms import delete_columns

    cats = np.asarray(categorize(list(vocab)), dtype=object)
    out = []
    for name in CATEGORY_ORDER:
        cols = np.flatnonzero(cats == name)
        row: dict[str, Any] = {"name": name, "n_terms": int(len(cols)), "remove": None}
        if len(cols) and name != "other":  # removing "other" removes nearly every word
            row["remove"] = data.fit_x(delete_columns(X, cols),
                                       Condition("remove_category", {"category": name}), C)
        out.append(row)
    if not any(r["remove"] for r in out):
        notes.append("no vocabulary term falls in a named category")
    return out, list(cats)


def _sections(data: _Data, redacted: list[str], notes: list[str]) -> list[dict[str, Any]]:
    from racelens.shared.results import Condition
    from racelens.text.explain.sections import split_sections

    per: dict[str, dict[int, list[str]]] = {}
    for i, t in enumerate(redacted):
        for name, body in split_sections(t):
            per.setdefault(name, {}).setdefault(i, []).append(body)
    ranked = sorted(per.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    out = []
    for rank, (name, bodies) in enumerate(ranked):
        row: dict[str, Any] = {"name": name, "n_notes": len(bodies), "auc": None}
        if len(bodies) >= data.cfg.min_section_notes and rank < data.cfg.max_sections:
            rows = np.asarray(sorted(bodies), dtype=int)
            texts = [" ".join(bodies[i]) for i in rows]
            try:
                row["auc"] = data.fit(texts, Condition("section", {"section": name}),
                                      rows=rows, model="tfidf").result.auc.to_dict()
            except (SplitError, LabelError, ValueError) as exc:
                notes.append(f"section {name!r}: no AUC ({exc})")
        out.append(row)
    return out


def _placeholder(data: _Data, token_texts: list[str], category_texts: list[str], token_fit: Any
                 ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    from racelens.shared.metrics.probe import linear_probe
    from racelens.shared.results import Condition
    from racelens.text.explain.placeholder import MODES, mention_features, redact_mode

    pattern, full, rates = {}, {}, {}
    original = data.texts
    for mode in MODES:
        given = {"token": token_texts, "category": category_texts}
        texts = given[mode] if mode in given else redact_mode(original, mode,
                                                               level=data.cfg.level)
        x, _ = mention_features(texts)
        cond = Condition("placeholder", {"replacement": mode})
        fit = linear_probe(x, data.y, data.pids, data.split, data.classes, condition=cond,
                           seed=data.cfg.seed, n_boot=data.cfg.n_boot)
        pattern[mode] = fit.result.auc.to_dict()
        if mode == "token":
            full[mode] = token_fit.result.auc.to_dict()
            rates = {g: float((x[data.y == g, 0] > 0).mean()) for g in data.classes}
        else:
            full[mode] = data.fit(texts, Condition("redact", {"level": data.cfg.level,
                                                              "replacement": mode})
                                  ).result.auc.to_dict()
    return pattern, full, rates


def run_text_explain(config: ExplainConfig) -> dict[str, Any]:
    """Explain race leakage from redacted notes (see the module doc); returns ``explain.json``."""
    from racelens.shared.results import Condition
    from racelens.shared.tables import atomic_write_text, check_writable_dir
    from racelens.text.explain.categories import categorize
    from racelens.text.explain.placeholder import token_and_category

    cfg = config
    if cfg.out is not None:
        check_writable_dir(cfg.out)
    data = _Data(cfg)
    notes: list[str] = []
    _say(cfg, f"{len(data.texts):,} notes of {len(set(data.pids)):,} patients; fitting the "
              "leakage model on the original and the redacted notes")
    original = data.fit(data.texts, Condition("original"))
    redacted, category_texts = token_and_category(data.texts, level=cfg.level)
    red = data.fit(redacted, Condition("redact", {"level": cfg.level}))
    lin = red.model if cfg.model == "tfidf" else data.fit(
        redacted, Condition("redact", {"level": cfg.level}), model="tfidf").model
    X = lin.transform(redacted)
    vocab = lin.vectorizer_.get_feature_names_out()

    _say(cfg, "terms: exact contributions of the linear model")
    if cfg.model == "tfidf":
        from racelens.text.explain.terms import linear_terms

        terms, delta = linear_terms(lin.classifier_, X, vocab, data.y, data.pids, data.test,
                                    min_patients=cfg.min_patients, top=cfg.n_terms)
        method = "exact: centred coefficient x tf-idf, mean over each group's test notes"
    else:
        from racelens.text.explain.transformer import transformer_terms

        terms, delta = transformer_terms(red.model, redacted, data.y, data.pids, data.test,
                                         min_patients=cfg.min_patients, top=cfg.n_terms,
                                         seed=cfg.seed)
        method = "captum LayerIntegratedGradients on the input embeddings, merged to words"
    cats = dict(zip(vocab, categorize(list(vocab)), strict=True)) if len(vocab) else {}
    terms = [replace(t, category=cats.get(t.term) or categorize([t.term])[0]) for t in terms]
    ranked = list(dict.fromkeys(t.term for t in terms if t.term in cats))

    _say(cfg, f"deletion curve: k = {', '.join(str(k) for k in cfg.ks)}")
    train = data.split == "train"
    doc_freq = np.asarray((X[train] > 0).sum(axis=0)).ravel()
    deletion = _deletion(data, X, lin.C_, vocab, ranked, doc_freq, notes)
    _say(cfg, "categories: each kind of term removed")
    categories, _ = _categories(data, X, lin.C_, vocab, notes)
    _say(cfg, "sections: each section alone")
    sections = _sections(data, redacted, notes)
    _say(cfg, "placeholder: the mention pattern alone, token / category / delete")
    pattern, full, rates = _placeholder(data, redacted, category_texts, red)

    doc = {"schema": EXPLAIN_SCHEMA, "modality": "text", "config": cfg.to_dict(),
           "data": {"n_notes": len(data.texts), "n_patients": int(len(set(data.pids))),
                    "groups": {g: int((data.y == g).sum()) for g in data.classes},
                    "split_sizes": {s: int((data.split == s).sum())
                                    for s in ("train", "val", "test")},
                    "excluded": dict(data.cohort.excluded),
                    "n_skipped": len(data.cohort.skipped)},
           "original": original.result.auc.to_dict(), "redacted": red.result.auc.to_dict(),
           "method": method, "completeness_delta": delta,
           "terms": [t.to_dict() for t in terms], "deletion": deletion,
           "categories": categories, "sections": sections,
           "placeholder": pattern, "placeholder_model": full, "mention_rate": rates,
           "notes": notes}
    if cfg.out is not None:
        import json

        from racelens.shared.tables import json_default

        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / EXPLAIN_FILE, json.dumps(doc, indent=2, allow_nan=False,
                                                         default=json_default) + "\n")
    return doc
