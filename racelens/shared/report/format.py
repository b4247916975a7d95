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
           "safe_config", "check_view",
           "tables_from", "fairness_tables", "markdown_report"]

DASH = "–"
_ID_KEYS = re.compile(r"(^|_)(sample|patient|subject|study|note|hadm|dicom|mrn)_?ids?$", re.I)
_PATHLIKE = re.compile(r"\S*[/\\]\S*")
TOP_TERMS = 15
TOP_PROXIES = 10


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


def _is_estimate(v: Any) -> bool:
    return isinstance(v, Mapping) and "estimate" in v and set(v) <= {"estimate", "ci_low",
                                                                     "ci_high", "level"}


def fmt_cell(v: Any) -> str:
    """Any scalar, estimate dict or list of scalars as table text."""
    if _is_estimate(v):
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


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _estimate(v: Any) -> dict[str, Any] | None:
    if _is_estimate(v):
        return dict(v)
    if isinstance(v, Mapping) and isinstance(v.get("auc"), Mapping):
        return _estimate(v["auc"].get("macro"))
    n = _num(v)
    return None if n is None else {"estimate": n, "ci_low": None, "ci_high": None}


def _mentions(m: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(m, Mapping):
        return None
    by_group: dict[str, dict[str, Any]] = {}
    for g, v in (m.get("per_group") or m.get("by_group") or {}).items():
        if isinstance(v, Mapping):
            by_group[str(g)] = {"count": v.get("n_mentions", v.get("count")),
                                "rate_per_1000": v.get("per_1000_notes", v.get("rate_per_1000")),
                                "share": v.get("share_notes_with_mentions", v.get("share"))}
        else:
            by_group[str(g)] = {"count": v, "rate_per_1000": None, "share": None}
    terms = m.get("terms") or {}
    top = sorted(((str(t), int(n)) for t, n in terms.items()), key=lambda tn: (-tn[1], tn[0]))
    return {"count": m.get("n_mentions", m.get("count")),
            "rate_per_1000": m.get("per_1000_notes", m.get("rate_per_1000")),
            "n_notes": m.get("n_notes"), "n_notes_with_mentions": m.get("n_notes_with_mentions"),
            "by_group": by_group, "terms": [list(t) for t in top[:TOP_TERMS]],
            "n_terms": len(top)}


def _proxies(raw: Any) -> dict[str, list[dict[str, Any]]]:
    items: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(raw, Mapping):
        items = [(str(g), p) for g, ps in raw.items() for p in (ps or []) if isinstance(p, Mapping)]
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        items = [(str(p.get("group", "")), p) for p in raw if isinstance(p, Mapping)]
    out: dict[str, list[dict[str, Any]]] = {}
    for g, p in items:
        lst = out.setdefault(g, [])
        if len(lst) < TOP_PROXIES:
            lst.append({"ngram": str(p.get("ngram", "")), "weight": _num(p.get("weight")),
                        "df_by_group": dict(p.get("df_by_group") or p.get("doc_freq") or {})})
    return out


def check_view(chk: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise a redaction-check dict (``racelens.redaction_check/1`` or a compact form).

    Keeps aggregates, the top lexicon terms and the top proxy n-grams; span offsets and
    misses are reduced to counts.
    """
    original = _mentions(chk.get("original"))
    rates = chk.get("mention_rates")
    if isinstance(rates, Mapping):
        original = original or {"by_group": {}, "count": None, "rate_per_1000": None,
                                "n_notes": None, "n_notes_with_mentions": None, "terms": [],
                                "n_terms": 0}
        for g, v in rates.items():
            original["by_group"].setdefault(str(g), {"count": None, "rate_per_1000": None,
                                                     "share": None})["share"] = _num(v)
    spans = chk.get("spans")
    if isinstance(spans, Mapping):
        spans = {k: spans.get(k) for k in ("precision", "recall", "f2", "n_gold", "n_predicted")}
        miss, fh = chk["spans"].get("misses"), chk["spans"].get("false_hits")
        spans["n_misses"] = len(miss) if isinstance(miss, Sequence) else miss
        spans["n_false_hits"] = len(fh) if isinstance(fh, Sequence) else fh
    leak = chk.get("leakage", chk.get("leakage_auc"))
    leakage = None
    if leak is not None:
        per_group = leak.get("auc", {}).get("per_group", {}) if isinstance(leak, Mapping) else {}
        leakage = {"macro": _estimate(leak), "per_group": dict(per_group),
                   "p_value_vs_chance": leak.get("p_value_vs_chance")
                   if isinstance(leak, Mapping) else None,
                   "n_test": leak.get("n_test") if isinstance(leak, Mapping) else None}
    residual = _mentions(chk.get("residual"))
    return {"level": chk.get("level"), "n_notes": chk.get("n_notes"),
            "residual": residual, "original": original, "spans": spans,
            "leakage": leakage, "proxies": _proxies(chk.get("proxies")),
            "by_group": _group_table(residual, original, leakage),
            "notes": [scrub(str(n)) for n in chk.get("notes", []) or []]}


def _group_table(residual: Mapping[str, Any] | None, original: Mapping[str, Any] | None,
                 leakage: Mapping[str, Any] | None) -> dict[str, Any]:
    """Per group: residual mentions, how often the original notes mention race, leakage AUC.

    Columns that no group has a value for are left out.
    """
    res = (residual or {}).get("by_group", {})
    org = (original or {}).get("by_group", {})
    leak = (leakage or {}).get("per_group", {})
    cols = [("residual mentions", lambda g: fmt_num(res.get(g, {}).get("count"))),
            ("residual per 1,000 notes", lambda g: fmt_num(res.get(g, {}).get("rate_per_1000"), 1)),
            ("original: notes mentioning race",
             lambda g: DASH if _num(org.get(g, {}).get("share")) is None
             else f"{100 * float(org[g]['share']):.1f}%"),
            ("original: mentions per 1,000 notes",
             lambda g: fmt_num(org.get(g, {}).get("rate_per_1000"), 1)),
            ("leakage AUC", lambda g: fmt_ci(leak.get(g)))]
    groups = list(dict.fromkeys([*res, *org, *leak]))
    cells = {name: [f(g) for g in groups] for name, f in cols}
    keep = [name for name, _ in cols if any(c != DASH for c in cells[name])]
    return {"title": "", "columns": ["group", *keep],
            "rows": [[g, *(cells[name][i] for name in keep)] for i, g in enumerate(groups)]}


def tables_from(obj: Any, title: str) -> list[dict[str, Any]]:
    """Turn nested dicts (e.g. fairness extras) into titled tables of formatted cells.

    A dict of dicts of scalars/estimates becomes one table (rows = outer keys); a dict of
    scalars becomes a two-column table; deeper nesting recurses with ``a › b`` titles.
    """
    def scalar(v: Any) -> bool:
        return _is_estimate(v) or not isinstance(v, Mapping | list | tuple) or (
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
    if p["redaction_checks"] or p.get("proxies_removed"):
        lines += ["## Redaction check", ""]
    for chk in p["redaction_checks"]:
        lines += [f"### {labels[chk['result']]}: {chk['condition']}", ""]
        res = chk["residual"]
        if res:
            lines += [f"Residual mentions: {fmt_num(res['count'])} "
                      f"({fmt_num(res['rate_per_1000'], 1)} per 1,000 notes). Terms: "
                      + (", ".join(f"{t} ({n})" for t, n in res["terms"]) or DASH), ""]
        lines += _md_table(chk["by_group"]["columns"], chk["by_group"]["rows"])
        if chk["leakage"]:
            lines += [f"Leakage (race from redacted text): macro AUC {fmt_ci(chk['leakage']['macro'])}",
                      ""]
        for g, ps in chk["proxies"].items():
            if ps:
                lines += [f"Top proxies {g}: " + ", ".join(x["ngram"] for x in ps), ""]
    for pr in p.get("proxies_removed", []):
        lines += [f"Proxies stripped ({labels[pr['result']]}, in order): " + ", ".join(pr["ngrams"]),
                  ""]
    if p["fairness"]:
        lines += ["## Fairness", ""]
    for f in p["fairness"]:
        for t in f["tables"]:
            title = " › ".join(x for x in (labels[f["result"]], f["condition"], t["title"]) if x)
            lines += [f"### {title}", "", *_md_table(t["columns"], t["rows"])]
    lines += ["## Provenance", ""]
    for pr in p["provenance"]:
        lines += [f"### {pr['label']}", "",
                  f"- racelens {pr['racelens_version']}, created {pr['created']}, seed {pr['seed']}",
                  f"- data fingerprint: `{pr['fingerprint'] or DASH}`",
                  "- versions: " + (_counts(pr["versions"]) if pr["versions"] else DASH), ""]
        lines += _md_table(["config", "value"], pr["config"])
    return "\n".join(lines).rstrip() + "\n"
