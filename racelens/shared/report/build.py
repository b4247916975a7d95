"""The combined comparison report: any number of ``result.json`` files side by side.

:func:`build_report` reads the results into a JSON-able *payload* (aggregates only);
:func:`render_html` turns it into one self-contained HTML page (figures embedded as SVG data
URIs, no network resources, print CSS) from the Jinja2 template ``templates/report.html.j2``;
:func:`render_markdown` into a Markdown summary; :func:`write_report` writes all three.

What never reaches a report: sample ids of skipped rows (only counts by reason), patient ids,
file paths (config values that look like paths are shown as ``(path)``), note text (only single
lexicon terms and proxy n-grams from the redaction check) and images.

Example
-------
>>> paths = write_report(["out/demo"], "out/demo/report.html")  # doctest: +SKIP
>>> sorted(paths)                                                  # doctest: +SKIP
['html', 'json', 'md']
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from racelens.errors import DataError, SchemaError
from racelens.shared.report.format import (
    fmt_ci,
    fmt_num,
    fmt_p,
    markdown_report,
    safe_config,
    scrub,
)
from racelens.shared.report.registry import Origin
from racelens.shared.report.sections import attachments_of, find_documents, render_sections
from racelens.shared.report.strength import task_of
from racelens.shared.results import SCHEMA_ID, AuditResult, ConditionResult
from racelens.shared.run_files import write_files_note
from racelens.shared.tables import atomic_write_json, atomic_write_text

__all__ = ["REPORT_SCHEMA", "ReportPayload", "find_results", "build_report", "render_html",
           "render_markdown", "svg_uri", "write_report"]

log = logging.getLogger(__name__)

REPORT_SCHEMA = "racelens.report/1"
ReportPayload = dict[str, Any]
_MODALITY_ORDER = {"imaging": 0, "covariates": 1, "text": 2, "human": 3}


def find_results(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and run directories into ``result.json`` paths (directories recursively).

    Raises
    ------
    DataError
        When a path does not exist or a directory holds no ``result.json``.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise DataError(f"{p}: no such file or directory; give result.json files or run folders")
        found = [p] if p.is_file() else sorted(p.rglob("result.json"))
        if not found:
            raise DataError(f"{p}: no result.json in this folder or below; run an audit first "
                            "(racelens imaging audit / racelens text audit) or name the file")
        out.extend(f for f in found if f.resolve() not in {o.resolve() for o in out})
    if not out:
        raise DataError("no result.json given; name at least one result file or run folder")
    return out


def _inputs(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The ``result.json`` files and the registered documents under ``paths``.

    A folder may hold documents only (``explain.json``); one that holds neither is an error.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise DataError("no result.json given; name at least one result file or run folder")
    documents = find_documents(paths)
    files: list[Path] = []
    for p in paths:
        try:
            found = find_results([p])
        except DataError:
            here = p.resolve()
            if not any(f.parent == here or f.parent.is_relative_to(here) for f, _ in documents):
                raise
            found = []
        files.extend(f for f in found if f.resolve() not in {o.resolve() for o in files})
    return files, documents


def _input(path: Path, rid: str | None, schema: str) -> dict[str, Any]:
    """A file the report read, named by its folder and file name and its SHA-256 (no full path:
    the report leaves the run directory), so an exported report names the results it shows."""
    return {"result": rid, "schema": schema, "file": f"{path.resolve().parent.name}/{path.name}",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def svg_uri(fig: Any) -> str:
    """A matplotlib figure as a ``data:image/svg+xml;base64,...`` URI (no timestamp)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _group_order(results: Sequence[AuditResult]) -> list[str]:
    """Race groups of all results in :func:`~racelens.shared.cohort.ordered_groups` order; a
    disease task's classes are not groups."""
    from racelens.shared.cohort import ordered_groups

    seen: list[str] = []
    for r in results:
        per_group = [g for c in r.conditions for g in c.auc.per_group] if task_of(r) is None else []
        seen += [*r.data.groups, *per_group]
    return ordered_groups(seen)


def _headline_row(rid: str, r: AuditResult, dataset: str, c: ConditionResult) -> dict[str, Any]:
    return {"result": rid, "modality": r.modality, "dataset": dataset,
            "condition": c.condition.label, "name": c.name, "params": dict(c.params),
            "macro": c.auc.macro.to_dict(),
            "per_group": {g: e.to_dict() for g, e in c.auc.per_group.items()},
            "p_value_vs_chance": c.p_value_vs_chance, "n_test": c.n_test}


def _cohort(rid: str, r: AuditResult, dataset: str) -> dict[str, Any]:
    ids = [s.sample_id for s in r.data.skipped]
    by_reason: dict[str, int] = {}
    for s in r.data.skipped:
        reason = scrub(s.reason, ids)
        by_reason[reason] = by_reason.get(reason, 0) + 1
    return {"result": rid, "modality": r.modality, "dataset": dataset,
            "n_samples": r.data.n_samples, "n_patients": r.data.n_patients,
            "n_input_rows": r.data.n_input_rows, "groups": dict(r.data.groups),
            "excluded": dict(r.data.excluded), "n_excluded": int(sum(r.data.excluded.values())),
            "skipped_by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "n_skipped": len(ids)}


def _figures(results: Sequence[AuditResult], labels: Sequence[str],
             roc: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    from racelens.shared.report.plots import plot_auc_panels, plot_roc_per_group
    from racelens.shared.report.strength import families

    figs: dict[str, Any] = {"auc_vs_strength": None, "roc": []}
    try:
        n = max(1, len(families(results)))
        ncols = n if n <= 4 else 3
        fig = plot_auc_panels(results, labels=labels, ncols=ncols)
        fig.set_size_inches(max(6.0, 3.3 * ncols), 3.4 * math.ceil(n / ncols) + 0.6)
        figs["auc_vs_strength"] = svg_uri(fig)
        for item in roc:
            ax = plot_roc_per_group(item["curves"], aucs=item["auc"])
            ax.figure.set_size_inches(3.6, 3.4)
            figs["roc"].append({"result": item["result"], "title": item["title"],
                                "src": svg_uri(ax.figure)})
    except (ValueError, TypeError, KeyError) as exc:  # a malformed extra must not sink the report
        log.warning("a report figure could not be drawn: %s", exc)
    return figs


def build_report(paths: Iterable[str | Path], *, figures: bool = True) -> ReportPayload:
    """Read ``result.json`` files (or run folders) into the report payload.

    Parameters
    ----------
    paths
        Result files and/or directories searched recursively for ``result.json``.
    figures
        Draw the figures (embedded SVG data URIs under ``payload["figures"]``).

    Returns
    -------
    ReportPayload
        A JSON-able dict: ``results``, ``headline``, ``strength``, ``roc``, ``cohorts``,
        ``provenance``, ``sections`` (the registered sections drawn, see
        :mod:`racelens.shared.report.registry`), each registered section's ``data`` under its
        key (``fairness``, and what the modalities register) and ``figures``.

    Raises
    ------
    DataError, SchemaError
        When a path holds no result or a file is not ``racelens.audit/1``.
    """
    from racelens import __version__
    from racelens.shared.report.strength import series_label, strength_point

    files, documents = _inputs(paths)
    loaded: list[tuple[Path, AuditResult]] = []
    for f in files:
        try:
            loaded.append((f, AuditResult.read(f)))
        except SchemaError:
            raise
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{f}: cannot read ({exc})") from exc
    loaded.sort(key=lambda fr: _MODALITY_ORDER.get(fr[1].modality, 9))
    results = [r for _, r in loaded]
    payload: ReportPayload = {
        "schema": REPORT_SCHEMA, "racelens_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "groups": _group_order(results), "results": [], "headline": [], "strength": [],
        "roc": [], "cohorts": [], "provenance": [], "inputs": [], "sections": []}
    labels: list[str] = []
    docs: list[tuple[str, Origin, Mapping[str, Any]]] = []
    for i, (f, r) in enumerate(loaded):
        rid = f"R{i + 1}"
        dataset = r.data.dataset or f.resolve().parent.name
        label = series_label(r, dataset)
        if label in labels:
            label = f"{label} ({rid})"
        labels.append(label)
        payload["results"].append({"id": rid, "modality": r.modality, "dataset": dataset,
                                   "label": label, "task": task_of(r),
                                   "n_conditions": len(r.conditions)})
        for c in r.conditions:
            payload["headline"].append(_headline_row(rid, r, dataset, c))
            sp = strength_point(c, r.modality)
            payload["strength"].append({
                "result": rid, "condition": c.condition.label,
                "family": sp.family if sp else "original", "tick": sp.tick if sp else "original",
                "macro": c.auc.macro.to_dict()})
            roc = c.extras.get("roc")
            if c.name == "original" and isinstance(roc, Mapping) and roc:
                payload["roc"].append({
                    "result": rid, "title": f"{label}: {c.condition.label}"
                    + (f" (task {task_of(r)})" if task_of(r) else ""),
                    "curves": {g: {"fpr": list(v.get("fpr", [])), "tpr": list(v.get("tpr", []))}
                               for g, v in roc.items() if isinstance(v, Mapping)},
                    "auc": {g: e.estimate for g, e in c.auc.per_group.items()}})
        payload["cohorts"].append(_cohort(rid, r, dataset))
        docs.extend((schema, Origin(rid, label, dataset, cond), doc)
                    for schema, cond, doc in attachments_of(r))
        payload["provenance"].append({
            "result": rid, "label": label, "modality": r.modality, "dataset": dataset,
            "source": f.resolve().parent.name, "racelens_version": r.racelens_version,
            "created": r.created, "seed": r.seed, "fingerprint": r.data.fingerprint,
            "versions": dict(r.versions), "config": safe_config(r.config)})
        payload["inputs"].append(_input(f, rid, SCHEMA_ID))
    folders = {f.resolve().parent: res for (f, _), res in zip(loaded, payload["results"],
                                                               strict=True)}
    for f, schema in documents:
        owner = folders.get(f.parent)
        doc = json.loads(f.read_text(encoding="utf-8"))
        payload["inputs"].append(_input(f, owner["id"] if owner else None, schema))
        docs.append((schema, Origin(owner["id"] if owner else None,
                                    owner["label"] if owner else f.parent.name,
                                    owner["dataset"] if owner else f.parent.name, path=f), doc))
    payload["sections"], data = render_sections(docs)
    payload.update(data)
    if figures:
        race = [i for i, r in enumerate(results) if task_of(r) is None]  # one axis: race AUC
        payload["figures"] = _figures([results[i] for i in race], [labels[i] for i in race],
                                      payload["roc"])
    return payload


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("racelens.shared.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(num=fmt_num, ci=fmt_ci, pval=fmt_p)
    return env


def render_html(payload: ReportPayload) -> str:
    """Render the payload as one self-contained HTML page (no network resources)."""
    figures = payload.get("figures") or {"auc_vs_strength": None, "roc": []}
    labels = {r["id"]: r["label"] for r in payload["results"]}
    return _env().get_template("report.html.j2").render(p=payload, figures=figures,
                                                        labels=labels)


def render_markdown(payload: ReportPayload) -> str:
    """Render the payload as a Markdown summary (tables only, no figures)."""
    return markdown_report(payload)


def write_report(paths: Iterable[str | Path], out_html: str | Path = "report.html"
                 ) -> dict[str, Path]:
    """Build the report and write ``report.html``, ``report.json`` and ``report.md`` atomically.

    ``report.json`` is the payload without the embedded figures (they are drawn from the data
    it holds); the two other files sit beside the HTML with the same stem, and ``FILES.md``
    (:func:`racelens.shared.run_files.write_files_note`) beside them.

    Returns
    -------
    dict
        ``{"html": Path, "json": Path, "md": Path}``.
    """
    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        out_html = out_html / "report.html" if out_html.is_dir() or not out_html.suffix \
            else out_html.with_suffix(".html")
    payload = build_report(paths)
    data = {k: v for k, v in payload.items() if k != "figures"}
    data["sections"] = [{**sec, "figures": [], "cards": [{**c, "figures": []} for c in sec["cards"]]}
                        for sec in payload["sections"]]
    written = {"html": atomic_write_text(out_html, render_html(payload)),
               "json": atomic_write_json(out_html.with_suffix(".json"), data),
               "md": atomic_write_text(out_html.with_suffix(".md"), render_markdown(payload))}
    write_files_note(out_html.parent)
    return written
