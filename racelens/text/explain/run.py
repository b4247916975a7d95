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
   regularisation's, the solver started from the redacted model with those terms' weights
   zeroed);
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from racelens.errors import ConfigError

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
        Called with a one-line message (aggregates only) as each stage starts and each fit
        ends.
    workers
        Processes the independent fits run in (:mod:`racelens.text.explain.stages`; ``spawn``
        start method, so a script calling this with ``workers > 1`` needs the ``if __name__ ==
        "__main__":`` guard). ``1`` (default) fits in this process; the results are the same
        for any number. A transformer model always fits in this process.
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
    workers: int = 1

    def __post_init__(self) -> None:
        if int(self.workers) < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
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
        d.pop("workers")  # how it ran, not what it computed: the results do not depend on it
        d["input"] = "<DataFrame>" if isinstance(self.input, pd.DataFrame) else str(self.input)
        d["out"] = None if self.out is None else str(self.out)
        d["ks"] = [int(k) for k in self.ks]
        return d


#: Notes read, redacted and written away at a time (the main process holds one part's texts).
PART = 1000
# the input row of each note, carried through the cohort in place of its text (see _Data)
_ROW = "_racelens_explain_row"


class _Data:
    """The labelled notes and their split.

    The cohort is built from the table without its text column (a one-character stand-in,
    empty where the note is, so the same notes are skipped as empty) and each note's input row;
    :meth:`texts` then reads the notes part by part from the input table's own column. The
    notes are never held twice in this process (a cohort table and a list of all the notes
    would each hold a copy of the text, and building the cohort from the full table makes
    more while it runs).
    """

    def __init__(self, cfg: ExplainConfig) -> None:
        import os

        from racelens.shared.cohort import is_cohort_file
        from racelens.shared.tables import read_table
        from racelens.text.audit import TextAuditConfig, _require_two_groups
        from racelens.text.check.leakage import leakage_split
        from racelens.text.sources import from_table

        self.cfg = cfg
        table, name = cfg.input, None
        if not isinstance(table, pd.DataFrame) and not is_cohort_file(table):
            name, table = os.path.basename(str(table)), read_table(table)
            _release_arrow()  # the reader's scratch buffers, freed but kept by Arrow's pool
        column: pd.Series | None = None
        source = table
        if (isinstance(table, pd.DataFrame) and cfg.text_col in table.columns
                and _ROW not in table.columns
                and cfg.text_col not in (cfg.label_col, cfg.patient_col, cfg.sample_col)):
            source, column = _without_text(table, cfg.text_col)
        cohort = from_table(source, text_col=cfg.text_col, race_col=cfg.label_col,
                            patient_col=cfg.patient_col, sample_col=cfg.sample_col,
                            race_source=cfg.race_source, collapse=cfg.collapse,
                            consistency=cfg.consistency, name=name)  # type: ignore[arg-type]
        del source, table
        _require_two_groups(TextAuditConfig(cfg.input, label_col=cfg.label_col,
                                            collapse=cfg.collapse), cohort)
        t = cohort.table
        self.y = t["race"].astype(str).to_numpy(object)
        self.pids = t["patient_id"].to_numpy(object)
        self.split = leakage_split(t["patient_id"], t["race"].astype(str), seed=cfg.seed,
                                   splits=t["split"] if "split" in t.columns else None)
        self.classes = sorted(set(self.y))
        if column is None:  # a cohort file: its table's text
            self._column: pd.Series | None = t["text"]
            self._rows = np.arange(len(t))
        else:
            self._column, self._rows = column, t[_ROW].to_numpy(np.int64)
        self.n_notes = len(t)
        self.test = np.flatnonzero(self.split == "test")
        # the cohort is not kept
        self.excluded, self.n_skipped = dict(cohort.excluded), len(cohort.skipped)

    def texts(self, size: int = PART) -> Iterator[list[str]]:
        """The notes in cohort order, ``size`` at a time (as the cohort's text column holds
        them: each value as ``str``)."""
        assert self._column is not None, "the notes were let go"
        for i in range(0, self.n_notes, size):
            yield self._column.iloc[self._rows[i:i + size]].astype(str).tolist()

    def drop_texts(self) -> None:
        self._column = None
        _release_arrow()  # a table read from a file: its text goes back to the system


def _release_arrow() -> None:
    """Hand the memory Arrow's pool keeps after frees back to the system: its allocator
    (mimalloc or jemalloc) keeps freed pages for reuse, so a read table's text, let go, would
    otherwise stay resident all run (measured: docs/benchmarks/text_explain.md)."""
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()


def _without_text(table: pd.DataFrame, text_col: str) -> tuple[pd.DataFrame, pd.Series]:
    """``table`` with its text column replaced by a stand-in that is empty exactly where the
    note is (what the cohort skips), and each row's position; and the text column itself."""
    from racelens.text.sources import _empty

    text = table[text_col]
    empty = np.zeros(len(table), dtype=bool)
    for i in range(0, len(table), 10 * PART):  # no whole-column copy while testing
        empty[i:i + 10 * PART] = _empty(text.iloc[i:i + 10 * PART]).to_numpy(bool)
    slim = table.drop(columns=[text_col])
    slim[text_col] = np.where(empty, "", "x")
    slim[_ROW] = np.arange(len(table))
    return slim, text


def _say(cfg: ExplainConfig, message: str) -> None:
    log.info("text explain: %s", message)
    if cfg.progress is not None:
        cfg.progress(message)


def _submit_deletion(run: Any, common: Any, X_ref: Any, lin: Any, vocab: Sequence[str],  # noqa: N803
                     ranked: list[str], doc_freq: np.ndarray, ks: Sequence[int],
                     seed: int, notes: list[str]) -> list[tuple[int, int]]:
    from racelens.shared.results import Condition
    from racelens.text.explain.stages import fit_deleted
    from racelens.text.explain.terms import columns_of, matched_random_terms

    rows = []
    for k in sorted(int(k) for k in ks):
        if k > len(ranked):
            notes.append(f"deletion k={k} skipped: only {len(ranked)} terms are listed")
            continue
        top = ranked[:k]
        rand = matched_random_terms(top, vocab, doc_freq, seed=int(
            np.random.SeedSequence([seed, k]).generate_state(1)[0]))
        for name, terms in (("top", top), ("random", rand)):
            cond = Condition("delete_terms", {"k": k, "which": name})
            run.submit(f"delete {name} k={k}", fit_deleted, common, X_ref,
                       columns_of(terms, vocab), cond, *_refit(lin))
        rows.append((k, len(rand)))
    return rows


def _refit(lin: Any) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    """What a feature-space re-fit takes from the redacted model: its ``C`` and its solution
    (where the re-fit's solver starts)."""
    return lin.C_, (lin.classifier_.coef_, lin.classifier_.intercept_)


def _submit_categories(run: Any, common: Any, X_ref: Any, lin: Any,  # noqa: N803
                       vocab: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    from racelens.shared.results import Condition
    from racelens.text.explain.categories import CATEGORY_ORDER, categorize
    from racelens.text.explain.stages import fit_deleted

    cats = np.asarray(categorize(list(vocab)), dtype=object)
    out = []
    for name in CATEGORY_ORDER:
        cols = np.flatnonzero(cats == name)
        row: dict[str, Any] = {"name": name, "n_terms": int(len(cols)), "remove": None}
        if len(cols) and name != "other":  # removing "other" removes nearly every word
            run.submit(f"without {name}", fit_deleted, common, X_ref, cols,
                       Condition("remove_category", {"category": name}), *_refit(lin))
        out.append(row)
    return out, list(cats)


def run_text_explain(config: ExplainConfig) -> dict[str, Any]:
    """Explain race leakage from redacted notes (see the module doc); returns ``explain.json``."""
    from racelens.shared.results import Condition
    from racelens.shared.tables import check_writable_dir
    from racelens.text.explain.categories import categorize
    from racelens.text.explain.placeholder import (
        MODES,
        iter_redact_modes,
        mention_matrix,
        mention_patterns,
    )
    from racelens.text.explain.sections import SectionParts
    from racelens.text.explain.stages import Common, Ref, Runner, fit_pattern, fit_texts

    cfg = config
    if cfg.out is not None:
        check_writable_dir(cfg.out)
    data = _Data(cfg)
    notes: list[str] = []
    # a transformer's fits stay in this process (one model on one device at a time)
    workers = cfg.workers if cfg.model == "tfidf" else 1
    common = Common(data.y, data.pids, data.split, tuple(data.classes), cfg.model,
                    cfg.model_params, cfg.seed, cfg.n_boot)
    red_cond = Condition("redact", {"level": cfg.level})
    with Runner(workers, progress=None if cfg.progress is None else
                lambda m: _say(cfg, m)) as run:
        # the original notes first, written away part by part: their fit starts (in a worker)
        # while this process redacts
        _say(cfg, f"{data.n_notes:,} notes of {len(set(data.pids)):,} patients; fitting the "
                  f"leakage model on the original notes; {workers} worker(s)")
        original = run.writer()
        for part in data.texts():
            original.extend(part)
        run.submit("original", fit_texts, common, original.ref(), Condition("original"))
        del original

        # one redaction pass (token, category and delete from the same spans), part by part:
        # each part's texts are written away, and their mention patterns and sections kept,
        # before the next is redacted
        _say(cfg, "redacting (token, category and delete from one pass), part by part")
        writers = {m: run.writer() for m in MODES}
        patterns: dict[str, list[Any]] = {m: [] for m in MODES}
        section_parts = SectionParts(run)
        for modes in iter_redact_modes(data.texts(), level=cfg.level):
            for m in MODES:
                patterns[m].extend(mention_patterns(modes[m]))
                writers[m].extend(modes[m])
            section_parts.add(modes["token"])
        data.drop_texts()
        redacted_ref = writers["token"].ref()

        _say(cfg, "fitting the leakage model on the redacted notes, the placeholder modes, "
                  "the sections")
        # the redacted model's fit also hands back the TF-IDF matrix of every note (what the
        # terms and the deletions read) from its own vectorising: no second pass over the text
        # (and, for the linear model, the exact terms read from that matrix in the same job)
        tfidf = cfg.model == "tfidf"
        run.submit("redacted", fit_texts, common, redacted_ref, red_cond,
                   keep_model=True, features=run.path("features") if tfidf else False,
                   terms={"min_patients": cfg.min_patients, "top": cfg.n_terms} if tfidf
                   else None)
        rates: dict[str, float] = {}
        for mode in MODES:
            x, _ = mention_matrix(patterns.pop(mode))
            run.submit(f"placeholder pattern {mode}", fit_pattern, common, x,
                       Condition("placeholder", {"replacement": mode}))
            if mode == "token":
                rates = {g: float((x[data.y == g, 0] > 0).mean()) for g in data.classes}
            else:
                run.submit(f"placeholder model {mode}", fit_texts, common, writers[mode].ref(),
                           Condition("redact", {"level": cfg.level, "replacement": mode}))
        del writers, x
        sections = section_parts.submit(common, cfg)
        del section_parts

        red = run.result("redacted")
        if cfg.model == "tfidf":
            # the terms were read in the redacted fit's worker, where its matrix already was
            lin, X_ref = red["model"], red["X"]
            terms, delta, doc_freq = red.pop("terms"), red.pop("delta"), red.pop("doc_freq")
            method = "exact: centred coefficient x tf-idf, mean over each group's test notes"
        else:
            from racelens.text.explain.transformer import transformer_terms

            redacted = redacted_ref.get()
            lin_fit = fit_texts(common, Ref(redacted), red_cond, model="tfidf",
                                keep_model=True, features=True)
            lin, parts = lin_fit["model"], lin_fit["X"].get()
            X_ref = run.share(parts)
            doc_freq = parts.doc_freq()
            del lin_fit, parts
            _say(cfg, "terms: integrated gradients of the transformer")
            terms, delta = transformer_terms(red["model"], redacted, data.y, data.pids,
                                             data.test, min_patients=cfg.min_patients,
                                             top=cfg.n_terms, seed=cfg.seed)
            method = "captum LayerIntegratedGradients on the input embeddings, merged to words"
            del redacted
        vocab = lin.vectorizer_.get_feature_names_out()
        cats = dict(zip(vocab, categorize(list(vocab)), strict=True)) if len(vocab) else {}
        terms = [replace(t, category=cats.get(t.term) or categorize([t.term])[0])
                 for t in terms]
        ranked = list(dict.fromkeys(t.term for t in terms if t.term in cats))

        _say(cfg, f"deletion curve (k = {', '.join(str(k) for k in cfg.ks)}) and each kind of "
                  "term removed")
        del_rows = _submit_deletion(run, common, X_ref, lin, vocab, ranked, doc_freq,
                                    cfg.ks, cfg.seed, notes)
        categories, _ = _submit_categories(run, common, X_ref, lin, vocab)

        # gather, in a fixed order (whatever order the jobs finished in)
        original = run.result("original")["auc"]
        deletion = [{"k": k, "top": run.result(f"delete top k={k}")["auc"],
                     "random": run.result(f"delete random k={k}")["auc"], "n_random": n}
                    for k, n in del_rows]
        for row in categories:
            if row["n_terms"] and row["name"] != "other":
                row["remove"] = run.result(f"without {row['name']}")["auc"]
        if not any(r["remove"] for r in categories):
            notes.append("no vocabulary term falls in a named category")
        for row in sections:
            job = row.pop("job", None)
            if job is not None:
                res = run.result(job)
                if "error" in res:
                    notes.append(f"section {row['name']!r}: no AUC ({res['error']})")
                else:
                    row["auc"] = res["auc"]
        pattern = {m: run.result(f"placeholder pattern {m}")["auc"] for m in MODES}
        full = {m: red["auc"] if m == "token" else run.result(f"placeholder model {m}")["auc"]
                for m in MODES}

    doc = {"schema": EXPLAIN_SCHEMA, "modality": "text", "config": cfg.to_dict(),
           "data": {"n_notes": data.n_notes, "n_patients": int(len(set(data.pids))),
                    "groups": {g: int((data.y == g).sum()) for g in data.classes},
                    "split_sizes": {s: int((data.split == s).sum())
                                    for s in ("train", "val", "test")},
                    "excluded": data.excluded,
                    "n_skipped": data.n_skipped},
           "original": original, "redacted": red["auc"],
           "method": method, "completeness_delta": delta,
           "terms": [t.to_dict() for t in terms], "deletion": deletion,
           "categories": categories, "sections": sections,
           "placeholder": pattern, "placeholder_model": full, "mention_rate": rates,
           "notes": notes}
    if cfg.out is not None:
        from racelens.shared.run_files import write_run_document

        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        write_run_document(out, EXPLAIN_FILE, doc)  # and the folder's FILES.md
    return doc
