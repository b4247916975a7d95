"""Formatting for the combined report: numbers, safe config views, generic tables, Markdown.

Helpers of :mod:`racelens.shared.report.build`; they know the report payload but no HTML. Two guards
live here: :func:`safe_config` (config values that look like paths or identifiers are not shown)
and :func:`scrub` (sample ids and paths are removed from free-text reasons and notes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["fmt_num", "fmt_ci", "fmt_p", "fmt_cell", "scrub", "is_id_key", "is_pathlike",
           "safe_config", "is_estimate", "to_float",
           "tables_from", "fairness_tables", "markdown_report"]

DASH = "–"
_ID_KEYS = re.compile(r"(^|_)(sample|patient|subject|study|note|hadm|dicom|mrn)_?ids?$", re.I)
_PATHLIKE = re.compile(r"\S*[/\\]\S*")


def fmt_num(x: Any, digits: int = 3) -> str:
    """A number for a table: ints with thousands separators, floats to ``digits`` decimals."""
    if x is None or isinstance(x, bool):
        return DASH if x is None else ("yes" if x else "no")
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, str):
        return x
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return DASH if math.isnan(v) else f"{v:.{digits}f}"


def fmt_ci(e: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``"0.960 [0.940, 0.980]"`` from an estimate dict (interval left out when missing)."""
    if not isinstance(e, Mapping) or e.get("estimate") is None:
        return DASH
    out = fmt_num(float(e["estimate"]), digits)
    if e.get("ci_low") is not None and e.get("ci_high") is not None:
        out += f" [{fmt_num(float(e['ci_low']), digits)}, {fmt_num(float(e['ci_high']), digits)}]"
    return out


def fmt_p(p: Any) -> str:
    """A p-value: ``<0.001`` below a thousandth, else two significant digits."""
    if p is None:
        return DASH
    p = float(p)
    if math.isnan(p):
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def is_estimate(v: Any) -> bool:
    """Whether ``v`` is an ``{"estimate", "ci_low", "ci_high"}`` dict."""
    return isinstance(v, Mapping) and "estimate" in v and set(v) <= {"estimate", "ci_low", "note",
                                                                     "ci_high", "level"}


def fmt_cell(v: Any) -> str:
    """Any scalar, estimate dict or list of scalars as table text."""
    if is_estimate(v):
        return fmt_ci(v)
    if isinstance(v, Mapping):
        return ", ".join(f"{k}: {fmt_cell(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(fmt_cell(x) for x in v)
    if isinstance(v, float):
        return fmt_num(v)
    return fmt_num(v) if isinstance(v, int) else str(v)


def scrub(text: str, ids: Sequence[str] = ()) -> str:
    """Remove sample ids and anything path-like from a free-text reason or note."""
    for i in sorted({str(x) for x in ids if str(x)}, key=len, reverse=True):
        text = text.replace(i, "(id)")
    return _PATHLIKE.sub("(path)", text)


def is_id_key(key: Any) -> bool:
    """Whether a key names identifiers (``patient_ids``, ``sample_id``, ``mrn``)."""
    return bool(_ID_KEYS.search(str(key)))


def is_pathlike(value: Any) -> bool:
    """Whether a value is a string with a ``/`` or ``\\`` (a path, shown as ``(path)``)."""
    return isinstance(value, str) and ("/" in value or "\\" in value)


def safe_config(config: Mapping[str, Any], prefix: str = "") -> list[list[str]]:
    """Flatten a config into ``[key, value]`` rows, hiding paths and identifier lists.

    Config values are the user's options and are shown, except strings with a ``/`` or ``\\``
    (shown as ``(path)``) and keys naming identifiers (``patient_ids``: ``(omitted)``).
    """
    rows: list[list[str]] = []
    for k, v in config.items():
        key = f"{prefix}{k}"
        if is_id_key(k):
            rows.append([key, "(omitted)"])
        elif isinstance(v, Mapping) and v:
            rows.extend(safe_config(v, key + "."))
        elif isinstance(v, list | tuple):
            rows.append([key, ", ".join(_safe_scalar(x) for x in v) or "[]"])
        else:
            rows.append([key, _safe_scalar(v)])
    return rows


def _safe_scalar(v: Any) -> str:
    if isinstance(v, str):
        return "(path)" if is_pathlike(v) else v
    if isinstance(v, Mapping | list | tuple):
        return "(nested)"
    return fmt_cell(v)


def to_float(x: Any) -> float | None:
    """``x`` as a float, ``None`` when it is not a number or NaN."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def tables_from(obj: Any, title: str) -> list[dict[str, Any]]:
    """Turn nested dicts (e.g. fairness extras) into titled tables of formatted cells.

    A dict of dicts of scalars/estimates becomes one table (rows = outer keys); a dict of
    scalars becomes a two-column table; deeper nesting recurses with ``a › b`` titles.
    """
    def scalar(v: Any) -> bool:
        return is_estimate(v) or not isinstance(v, Mapping | list | tuple) or (
            isinstance(v, list | tuple) and all(not isinstance(x, Mapping) for x in v))

    if isinstance(obj, Mapping) and obj and all(scalar(v) for v in obj.values()):
        return [{"title": title, "columns": ["", "value"],
                 "rows": [[str(k), fmt_cell(v)] for k, v in obj.items()]}]
    if isinstance(obj, Mapping) and obj and all(
            isinstance(v, Mapping) and v and all(scalar(x) for x in v.values())
            for v in obj.values()):
        cols: list[str] = []
        for v in obj.values():
            cols.extend(c for c in v if c not in cols)
        return [{"title": title, "columns": ["", *cols],
                 "rows": [[str(k), *(fmt_cell(v[c]) if c in v else DASH for c in cols)]
                          for k, v in obj.items()]}]
    if isinstance(obj, Mapping):
        out, flat = [], {}
        for k, v in obj.items():
            if scalar(v):
                flat[k] = v
            else:
                out.extend(tables_from(v, f"{title} › {k}" if title else str(k)))
        return (tables_from(flat, title) if flat else []) + out
    if isinstance(obj, list | tuple) and obj and all(isinstance(x, Mapping) for x in obj):
        cols = []
        for x in obj:
            cols.extend(c for c in x if c not in cols)
        return [{"title": title, "columns": cols,
                 "rows": [[fmt_cell(x[c]) if c in x else DASH for c in cols] for x in obj]}]
    return [{"title": title, "columns": ["value"], "rows": [[fmt_cell(obj)]]}] if obj else []


def _subgroup_tables(d: Mapping[str, Any], title: str) -> list[dict[str, Any]]:
    """``SubgroupMetrics.to_dict()``: one table of groups x metrics, one of the gaps."""
    by_group, sizes = d["by_group"], d.get("group_sizes") or {}
    metrics = list(d.get("metrics") or dict.fromkeys(m for row in by_group.values() for m in row))
    head = f"threshold {fmt_num(d['threshold'])}" if d.get("threshold") is not None else ""
    rows = [[str(g), fmt_num(sizes.get(g)), *(fmt_cell(row.get(m)) for m in metrics)]
            for g, row in by_group.items()]
    overall = d.get("overall") or {}
    if overall:
        rows.append(["overall", fmt_num(sum(sizes.values())) if sizes else DASH,
                     *(fmt_cell(overall.get(m)) for m in metrics)])
    out = [{"title": " · ".join(x for x in (title, head) if x), "columns": ["group", "n", *metrics],
            "rows": rows}]
    gaps = d.get("gaps") or {}
    if gaps:
        out.append({"title": f"{title} · gaps between groups".lstrip(" ·"),
                    "columns": ["metric", "max − min", "worst / best", "best group", "worst group"],
                    "rows": [[m, fmt_cell(g.get("difference")), fmt_cell(g.get("ratio")),
                              str(g.get("best_group", DASH)), str(g.get("worst_group", DASH))]
                             if isinstance(g, Mapping) else [m, fmt_cell(g), DASH, DASH, DASH]
                             for m, g in gaps.items()]})
    return out


def fairness_tables(obj: Any, title: str = "") -> list[dict[str, Any]]:
    """Tables for ``extras.fairness``: subgroup-metric dicts (one or one per task) get a
    groups x metrics table and a gaps table; anything else goes through :func:`tables_from`."""
    if isinstance(obj, Mapping) and isinstance(obj.get("by_group"), Mapping):
        return _subgroup_tables(obj, title)
    if isinstance(obj, Mapping) and obj and all(
            isinstance(v, Mapping) and isinstance(v.get("by_group"), Mapping) for v in obj.values()):
        return [t for k, v in obj.items() for t in _subgroup_tables(v, f"{title} › {k}"
                                                                    if title else str(k))]
    return tables_from(obj, title)


def _md_escape(s: Any) -> str:
    return str(s).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return []
    out = ["| " + " | ".join(_md_escape(c) for c in columns) + " |",
           "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
    return out + [""]


def _counts(d: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {fmt_num(v)}" for k, v in d.items()) or DASH


def _md_tables(tables: Sequence[Mapping[str, Any]], level: str = "###",
               prefix: str = "") -> list[str]:
    out: list[str] = []
    for t in tables:
        title = " › ".join(x for x in (prefix, t.get("title", "")) if x)
        out += ([f"{level} {title}", ""] if title else []) + _md_table(t["columns"], t["rows"])
    return out


def section_markdown(sec: Mapping[str, Any]) -> list[str]:
    """A registered report section (``payload["sections"][i]``) as Markdown, without figures."""
    lines = [f"## {sec['title']}", ""]
    lines += _md_tables(sec.get("tables", []))
    for c in sec.get("cards", []):
        if not (c.get("facts") or c.get("chips") or c.get("notes")):
            lines += _md_tables(c.get("tables", []), prefix=c["title"])  # tables only: titled
            continue
        lines += [f"### {c['title']}", ""] if c.get("title") else []
        lines += [f"- {k}: {v}" for k, v in c.get("facts", [])]
        lines += [""] if c.get("facts") else []
        if c.get("chips"):
            lines += [(f"{c['chips_title']}: " if c.get("chips_title") else "")
                      + ", ".join(c["chips"]), ""]
        lines += _md_tables(c.get("tables", []), level="####")
        lines += [f"Note: {n}" for n in c.get("notes", [])] + ([""] if c.get("notes") else [])
    lines += [str(n) for n in sec.get("notes", [])] + ([""] if sec.get("notes") else [])
    return lines


def markdown_report(p: Mapping[str, Any]) -> str:
    """The report payload as Markdown: the same sections as the HTML, without figures."""
    labels = {r["id"]: r["label"] for r in p["results"]}
    groups = list(p["groups"])
    lines = ["# racelens: race-predictability report", "",
             f"racelens {p['racelens_version']} · created {p['created']} · "
             f"{len(p['results'])} result(s). AUC 0.5 is chance; intervals are 95%.", "",
             "## Headline", ""]
    lines += _md_table(["result", "modality", "dataset", "condition", "macro AUC [95% CI]",
                        *groups, "p vs chance", "n"],
                       [[r["result"], r["modality"], r["dataset"], r["condition"],
                         fmt_ci(r["macro"]), *(fmt_num((r["per_group"].get(g) or {}).get(
                             "estimate")) for g in groups),
                         fmt_p(r["p_value_vs_chance"]), fmt_num(r["n_test"])]
                        for r in p["headline"]])
    lines += ["## Cohorts", ""]
    lines += _md_table(["result", "samples", "patients", "groups", "excluded", "skipped"],
                       [[labels[c["result"]], fmt_num(c["n_samples"]), fmt_num(c["n_patients"]),
                         _counts(c["groups"]), _counts(c["excluded"]),
                         _counts(c["skipped_by_reason"])] for c in p["cohorts"]])
    for sec in p.get("sections", []):
        lines += section_markdown(sec)
    lines += ["## Provenance", ""]
    for pr in p["provenance"]:
        lines += [f"### {pr['label']}", "",
                  f"- racelens {pr['racelens_version']}, created {pr['created']}, seed {pr['seed']}",
                  f"- data fingerprint: `{pr['fingerprint'] or DASH}`",
                  "- versions: " + (_counts(pr["versions"]) if pr["versions"] else DASH), ""]
        lines += _md_table(["config", "value"], pr["config"])
    return "\n".join(lines).rstrip() + "\n"
