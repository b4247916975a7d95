"""The redaction check and the stripped proxies as sections of the combined report.

Registered with the shared report by :mod:`racelens.text.plugin`: the check
(``racelens.redaction_check/1``, written by ``text check`` as ``check.json`` and kept by the
text audit in its result's ``extras``) and the proxy strip (``extras["strip_proxies"]``).
:func:`check_view` normalises either stored form of a check to aggregates: counts, rates, the
top lexicon terms and the top proxy n-grams; span misses and offsets become counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from racelens.shared.report.format import (
    DASH,
    fmt_ci,
    fmt_num,
    fmt_p,
    is_estimate,
    scrub,
    to_float,
)
from racelens.shared.report.registry import Card, Origin, SectionView, Table
from racelens.shared.results import AuditResult, Condition

__all__ = ["CHECK_SCHEMA", "PROXY_STRIP_SCHEMA", "TOP_TERMS", "TOP_PROXIES", "check_view",
           "collect_checks", "render_checks", "render_proxies_removed"]

CHECK_SCHEMA = "racelens.redaction_check/1"
PROXY_STRIP_SCHEMA = "racelens.proxy_strip/1"
TOP_TERMS = 15
TOP_PROXIES = 10
_CHECK_KEYS = ("check", "redaction_check")


def _estimate(v: Any) -> dict[str, Any] | None:
    if is_estimate(v):
        return dict(v)
    if isinstance(v, Mapping) and isinstance(v.get("auc"), Mapping):
        return _estimate(v["auc"].get("macro"))
    n = to_float(v)
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
            lst.append({"ngram": str(p.get("ngram", "")), "weight": to_float(p.get("weight")),
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
                                                     "share": None})["share"] = to_float(v)
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
             lambda g: DASH if to_float(org.get(g, {}).get("share")) is None
             else f"{100 * float(org[g]['share']):.1f}%"),
            ("original: mentions per 1,000 notes",
             lambda g: fmt_num(org.get(g, {}).get("rate_per_1000"), 1)),
            ("leakage AUC", lambda g: fmt_ci(leak.get(g)))]
    groups = list(dict.fromkeys([*res, *org, *leak]))
    cells = {name: [f(g) for g in groups] for name, f in cols}
    keep = [name for name, _ in cols if any(c != DASH for c in cells[name])]
    return {"title": "", "columns": ["group", *keep],
            "rows": [[g, *(cells[name][i] for name in keep)] for i, g in enumerate(groups)]}


def _is_check(d: Any) -> bool:
    return isinstance(d, Mapping) and bool({"residual", "leakage", "leakage_auc", "proxies"} & set(d))


def _redact_label(level: Any) -> str:
    """A result-level check is named like the condition it checks: ``redact(level=...)``."""
    return Condition("redact", {"level": level}).label if level else "redaction check"


def collect_checks(r: AuditResult) -> list[tuple[str, Mapping[str, Any]]]:
    """Redaction checks in a condition's extras or the result's (one, a list, or one per level)."""
    found: list[tuple[str, Any]] = []
    for c in r.conditions:
        found.extend((c.condition.label, c.extras[k]) for k in _CHECK_KEYS if k in c.extras)
    for k in (*_CHECK_KEYS, "checks"):
        v = r.extras.get(k)
        if _is_check(v):
            found.append((_redact_label(v.get("level")), v))
        elif isinstance(v, Mapping):
            found.extend((_redact_label(level), chk) for level, chk in v.items())
        elif isinstance(v, Sequence) and not isinstance(v, str):
            found.extend((_redact_label(chk.get("level")), chk) for chk in v
                         if isinstance(chk, Mapping))
    return [(label, chk) for label, chk in found if _is_check(chk)]


def _card(o: Origin, chk: Mapping[str, Any]) -> Card:
    facts: list[tuple[str, str]] = []
    if chk["n_notes"] is not None:
        facts.append(("Notes checked", fmt_num(chk["n_notes"])))
    res, org, leak, spans = chk["residual"], chk["original"], chk["leakage"], chk["spans"]
    if res:
        text = fmt_num(res["count"])
        if res["rate_per_1000"] is not None:
            text += f" ({fmt_num(res['rate_per_1000'], 1)} per 1,000 notes)"
        if res["n_notes_with_mentions"] is not None:
            text += f", in {fmt_num(res['n_notes_with_mentions'])} notes"
        facts.append(("Residual mentions", text))
    if org and org["rate_per_1000"] is not None:
        facts.append(("Original notes", f"{fmt_num(org['rate_per_1000'], 1)} mentions per 1,000 notes"))
    if leak:
        text = f"macro AUC {fmt_ci(leak['macro'])}"
        if leak["p_value_vs_chance"] is not None:
            text += f", p vs chance {fmt_p(leak['p_value_vs_chance'])}"
        facts.append(("Leakage (race from redacted text)", text))
    if spans:
        facts.append(("Spans vs gold", f"precision {fmt_num(spans['precision'])}, recall "
                      f"{fmt_num(spans['recall'])}, F2 {fmt_num(spans['f2'])} "
                      f"({fmt_num(spans['n_misses'])} misses, "
                      f"{fmt_num(spans['n_false_hits'])} false hits)"))
    facts += [(f"Top proxies {g}", ", ".join(x["ngram"] for x in ps))
              for g, ps in chk["proxies"].items() if ps]
    tables: list[Table | Mapping[str, Any]] = [chk["by_group"]] if chk["by_group"]["rows"] else []
    proxies = [[g, x["ngram"], fmt_num(x["weight"], 2),
                ", ".join(f"{k} {fmt_num(v)}" for k, v in x["df_by_group"].items()) or DASH]
               for g, ps in chk["proxies"].items() for x in ps]
    if proxies:
        tables.append(Table("Top proxies per group (n-grams most predictive of the group after "
                            "redaction; document frequency per group)",
                            ["group", "n-gram", "weight", "documents per group"], proxies))
    terms = res["terms"] if res else []
    return Card(title=str(o), facts=facts, tables=tables,
                chips_title=f"Residual terms (top {len(terms)} of {res['n_terms']})" if terms else "",
                chips=[f"{t} × {n}" for t, n in terms], notes=chk["notes"])


def render_checks(docs: list[tuple[Origin, Mapping[str, Any]]]) -> SectionView:
    """The report section of redaction checks: one card per check, rows in ``data``."""
    rows = [{"result": o.result, "dataset": o.dataset,
             "condition": o.condition or _redact_label(d.get("level")), **check_view(d)}
            for o, d in docs]
    cards = [_card(Origin(o.result, o.label, o.dataset, row["condition"]), row)
             for (o, _), row in zip(docs, rows, strict=True)]
    return SectionView(cards=cards, data=rows)


def collect_proxies_removed(r: AuditResult) -> list[tuple[str, Mapping[str, Any]]]:
    sp = r.extras.get("strip_proxies")
    removed = sp.get("removed") if isinstance(sp, Mapping) else None
    if not isinstance(removed, Sequence) or isinstance(removed, str) or not removed:
        return []
    return [("", sp)]


def render_proxies_removed(docs: list[tuple[Origin, Mapping[str, Any]]]) -> SectionView:
    """The n-grams the proxy strip removed, in order, per result."""
    rows = [{"result": o.result, "dataset": o.dataset, "ngrams": [str(x) for x in d["removed"]]}
            for o, d in docs]
    cards = [Card(title=f"{o.label} · proxies stripped, in the order removed ({len(row['ngrams'])})",
                  chips=row["ngrams"]) for (o, _), row in zip(docs, rows, strict=True)]
    return SectionView(cards=cards, data=rows)
