"""The combined report's payload, HTML and Markdown, from hand-built result.json files."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from _report_fixtures import (
    CONFIG_MARKER,
    GROUPS,
    SKIPPED_MARKER,
    cond,
    imaging_result,
    roc_curve,
    text_result,
    write_all,
)

from racelens.errors import DataError, RacelensError, SchemaError
from racelens.shared.report.build import (
    REPORT_SCHEMA,
    build_report,
    find_results,
    render_html,
    render_markdown,
    write_report,
)
from racelens.shared.report.format import (
    fairness_tables,
    fmt_ci,
    fmt_p,
    safe_config,
    scrub,
    tables_from,
)
from racelens.shared.results import AuditResult, DataSummary, SkippedRow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    write_all(root)
    return root


@pytest.fixture(scope="module")
def payload(runs):
    return build_report([runs])


def _row(payload, result, label):
    return next(h for h in payload["headline"] if h["result"] == result and h["condition"] == label)


def test_results_ordered_and_named(payload):
    assert payload["schema"] == REPORT_SCHEMA
    assert [(r["id"], r["modality"], r["dataset"]) for r in payload["results"]] == [
        ("R1", "imaging", "synthetic-cxr"), ("R2", "covariates", "covariates_run"),
        ("R3", "text", "synthetic-notes")]  # covariates has no data.dataset: run folder name
    assert payload["groups"] == list(GROUPS)
    assert len(payload["headline"]) == 8 + 1 + 5


def test_headline_carries_values_exactly(payload):
    r = _row(payload, "R1", "lowpass(radius=10)")
    assert r["macro"] == {"estimate": 0.84, "ci_low": 0.82, "ci_high": 0.86}
    assert r["per_group"]["White"] == {"estimate": 0.85, "ci_low": 0.83, "ci_high": 0.87}
    assert (r["p_value_vs_chance"], r["n_test"], r["params"]) == (1e-6, 300, {"radius": 10})
    t = _row(payload, "R3", "strip_proxies(level=extended,k=20)")
    assert (t["macro"]["estimate"], t["p_value_vs_chance"]) == (0.56, 0.03)
    assert _row(payload, "R2", "original")["macro"] == {"estimate": 0.61, "ci_low": 0.58,
                                                        "ci_high": 0.64}


def test_strength_families_and_ticks(payload):
    s = {(x["result"], x["condition"]): (x["family"], x["tick"]) for x in payload["strength"]}
    assert s[("R1", "original")] == ("original", "original")
    assert s[("R1", "highpass(radius=150)")] == ("highpass", "150")
    assert s[("R3", "original")] == ("redaction", "none")
    assert s[("R3", "strip_proxies(level=extended,k=5)")] == ("redaction", "−5")


def test_roc_only_for_original_conditions_with_curves(payload):
    assert [(x["result"], x["title"]) for x in payload["roc"]] == [
        ("R1", "imaging · synthetic-cxr: original"), ("R3", "text · synthetic-notes: original")]
    assert payload["roc"][0]["curves"]["Black"] == roc_curve(0.96)
    assert payload["roc"][0]["auc"] == {"Asian": 0.95, "Black": 0.96, "White": 0.97}


def test_cohorts_count_skipped_by_reason_only(payload):
    c = payload["cohorts"][0]
    assert c["skipped_by_reason"] == {"unreadable DICOM": 2, "not greyscale": 1}
    assert (c["n_samples"], c["n_excluded"], c["n_skipped"], c["n_input_rows"]) == (1000, 15, 3, 1018)
    assert c["excluded"] == {"Other": 12, "Unknown": 3}
    assert payload["cohorts"][1]["skipped_by_reason"] == {}


def test_redaction_check_compact_form(payload):
    chk, _ = payload["redaction_checks"]
    assert (chk["result"], chk["condition"]) == ("R3", "redact(level=explicit)")
    assert chk["residual"]["count"] == 4 and chk["residual"]["rate_per_1000"] == 0.8
    assert chk["residual"]["terms"] == [["caucasian", 3], ["af-am", 1]]
    assert chk["leakage"]["macro"] == {"estimate": 0.71, "ci_low": 0.66, "ci_high": 0.76}
    assert chk["proxies"]["Black"] == [{"ngram": "sickle cell", "weight": 3.1,
                                        "df_by_group": {"Asian": 0, "Black": 25, "White": 1}}]
    assert chk["by_group"]["columns"] == ["group", "residual mentions",
                                          "original: notes mentioning race"]
    assert chk["by_group"]["rows"] == [["Asian", "1", "31.0%"], ["Black", "2", "42.0%"],
                                       ["White", "1", "12.0%"]]


def test_redaction_check_per_level_and_proxies_removed(payload):
    _, chk = payload["redaction_checks"]
    assert (chk["result"], chk["condition"], chk["level"]) == ("R3", "redact(level=extended)", "extended")
    assert (chk["residual"]["count"], chk["residual"]["rate_per_1000"]) == (2, 2.5)
    assert chk["by_group"]["rows"] == [["Asian", "2", "13.3"]]
    assert chk["leakage"] is None and chk["original"] is None
    assert payload["proxies_removed"] == [
        {"result": "R3", "dataset": "synthetic-notes",
         "ngrams": ["interpreter", "sickle cell", "mandarin"]}]
    assert "mandarin" in render_markdown(payload)


def test_fairness_tables(payload):
    (f,) = payload["fairness"]
    assert (f["result"], f["condition"]) == ("R1", "")
    groups, gaps = f["tables"]
    assert groups["title"] == "No Finding · threshold 0.500"
    assert groups["columns"] == ["group", "n", "tpr", "fpr"]
    assert groups["rows"] == [["Asian", "60", "0.800 [0.750, 0.850]", "0.100"],
                              ["Black", "90", "0.820 [0.770, 0.870]", "0.110"],
                              ["White", "150", "0.840 [0.790, 0.890]", "0.120"],
                              ["overall", "300", "0.820", "0.110"]]
    assert gaps["rows"] == [["tpr", "0.040 [0.010, 0.070]", "0.950 [0.900, 0.990]", "White",
                             "Asian"]]


def test_fairness_tables_from_real_subgroup_metrics():
    from racelens.shared.metrics.fairness import subgroup_metrics

    rng = np.random.default_rng(0)
    groups = np.repeat(np.array(GROUPS), 40)
    y = rng.integers(0, 2, groups.size)
    score = np.clip(0.3 * y + rng.random(groups.size) * 0.7, 0, 1)
    sm = subgroup_metrics(y_true=y, y_score=score, groups=groups, threshold=0.5,
                          metrics=("tpr", "fpr"), n_boot=20, seed=0)
    tables = fairness_tables({"Cardiomegaly": sm.to_dict()})
    assert [t["title"] for t in tables] == ["Cardiomegaly · threshold 0.500",
                                            "Cardiomegaly · gaps between groups"]
    tpr_black = sm.by_group_ci["Black"]["tpr"]
    assert tables[0]["rows"][1][:3] == ["Black", "40", fmt_ci(tpr_black.to_dict())]
    assert [r[0] for r in tables[1]["rows"]] == ["tpr", "fpr"]


def test_fairness_tables_generic_shape():
    tables = fairness_tables({"threshold": 0.5, "per_group": {"A": {"tpr": 0.5}, "B": {"tpr": 0.7}}})
    assert tables == [{"title": "", "columns": ["", "value"], "rows": [["threshold", "0.500"]]},
                      {"title": "per_group", "columns": ["", "tpr"],
                       "rows": [["A", "0.500"], ["B", "0.700"]]}]


def test_tables_from_list_of_records():
    (t,) = tables_from([{"group": "A", "tpr": 0.5}, {"group": "B", "fpr": 0.25}], "x")
    assert t == {"title": "x", "columns": ["group", "tpr", "fpr"],
                 "rows": [["A", "0.500", "–"], ["B", "–", "0.250"]]}


def test_provenance(payload):
    pr = payload["provenance"][0]
    assert (pr["seed"], pr["fingerprint"], pr["source"]) == (7, "sha256:" + "ab" * 32, "imaging_run")
    assert pr["versions"] == {"racelens": "0.1.0", "torch": "2.3.0"}
    assert ["note", CONFIG_MARKER] in pr["config"]


def test_safe_config_hides_paths_and_identifier_lists():
    rows = safe_config({"manifest": "/data/p10/p10000032/s1.dcm", "patient_ids": ["P1", "P2"],
                        "model": {"name": "tiny_cnn", "depth": 3}, "conditions": ["lowpass:radius=1"],
                        "subject_id": 12, "root": "C:\\mimic"})
    assert rows == [["manifest", "(path)"], ["patient_ids", "(omitted)"], ["model.name", "tiny_cnn"],
                    ["model.depth", "3"], ["conditions", "lowpass:radius=1"],
                    ["subject_id", "(omitted)"], ["root", "(path)"]]


def test_scrub_and_formatters():
    assert scrub("cannot read s-123 at /mnt/x/s-123.dcm", ["s-123"]) == "cannot read (id) at (path)"
    assert fmt_ci({"estimate": 0.9, "ci_low": None, "ci_high": None}) == "0.900"
    assert fmt_ci(None) == "–" and fmt_p(None) == "–"
    assert (fmt_p(0.0004), fmt_p(0.0312)) == ("<0.001", "0.031")


def test_no_identifiers_or_paths_anywhere(tmp_path, runs):
    r = imaging_result()
    sid = f"{SKIPPED_MARKER}-9"
    data = DataSummary(**{**{k: getattr(r.data, k) for k in ("n_samples", "n_patients", "groups",
                                                            "excluded", "fingerprint", "dataset")},
                          "skipped": (SkippedRow(sid, f"{sid}: failed at /secret/dir/{sid}.dcm"),)})
    AuditResult(r.modality, data, r.conditions, config={**r.config, "images": "/secret/dir"}
                ).write(tmp_path / "leaky")
    paths = write_report([tmp_path / "leaky", runs], tmp_path / "out" / "report.html")
    for kind, path in paths.items():
        text = path.read_text(encoding="utf-8")
        assert SKIPPED_MARKER not in text, kind
        assert "/secret/dir" not in text and str(tmp_path) not in text, kind
        assert CONFIG_MARKER in text, kind  # user options are shown
    assert "(id): failed at (path)" in paths["md"].read_text(encoding="utf-8")


def test_html_is_self_contained(payload):
    html = render_html(payload)
    assert html.startswith("<!doctype html>")
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == 3
    for s in srcs:
        head, b64 = s.split(",", 1)
        assert head == "data:image/svg+xml;base64"
        assert b"<svg" in base64.b64decode(b64)[:2000]
    assert "@media print" in html
    assert "0.840" in html and "0.820–0.860" in html and "sickle cell" in html


def test_html_escapes_values(tmp_path):
    r = text_result()
    c = cond("redact", {"level": "explicit"}, 0.7, extras={"check": {"proxies": {
        "Black": [{"ngram": "<b>x</b>", "weight": 1.0}]}}})
    AuditResult("text", r.data, [c]).write(tmp_path / "run")
    html = render_html(build_report([tmp_path / "run"]))
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_tolerates_missing_extras_and_intervals(tmp_path):
    c = cond("original", {}, 0.7, extras={"roc": "not a dict"})
    c = type(c)(c.condition, type(c.auc).from_dict({"macro": {"estimate": 0.7}, "per_group": {}}),
                None, 10, c.extras)
    AuditResult("imaging", DataSummary(10, 5, {"A": 10}), [c]).write(tmp_path / "bare")
    p = build_report([tmp_path / "bare"])
    assert p["roc"] == [] and p["redaction_checks"] == [] and p["fairness"] == []
    assert p["headline"][0]["macro"] == {"estimate": 0.7, "ci_low": None, "ci_high": None}
    html, md = render_html(p), render_markdown(p)
    assert "0.700" in html and "| R1 | imaging | bare | original | 0.700 | – |" in md


def test_markdown_headline_rows(payload):
    md = render_markdown(payload)
    assert ("| R1 | imaging | synthetic-cxr | lowpass(radius=10) | 0.840 [0.820, 0.860] | 0.830 | "
            "0.840 | 0.850 | <0.001 | 300 |") in md
    assert "## Redaction check" in md and "Top proxies Asian: interpreter" in md
    assert "| imaging · synthetic-cxr | 1,000 | 400 |" in md


def test_write_report_files(tmp_path, runs):
    paths = write_report([runs], tmp_path / "o" / "summary.html")
    assert {k: p.name for k, p in paths.items()} == {"html": "summary.html", "json": "summary.json",
                                                      "md": "summary.md"}
    data = json.loads(paths["json"].read_text())
    assert "figures" not in data and data["schema"] == REPORT_SCHEMA
    assert data["headline"] == build_report([runs], figures=False)["headline"]
    assert not list((tmp_path / "o").glob(".*.tmp"))


def test_find_results_and_errors(tmp_path, runs):
    assert [p.parent.name for p in find_results([runs, runs / "text_run" / "result.json"])] == [
        "covariates_run", "imaging_run", "text_run"]
    with pytest.raises(DataError, match="no such file"):
        find_results([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no result.json in this folder"):
        build_report([tmp_path / "empty"])
    bad = tmp_path / "bad" / "result.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps({"schema": "something/2"}))
    with pytest.raises(SchemaError, match="expected 'racelens.audit/1'") as exc:
        build_report([bad])
    assert isinstance(exc.value, RacelensError)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RacelensError):
        build_report([tmp_path / "bin.json"])


def test_disease_task_results_are_labelled_and_kept_off_the_race_axis(tmp_path, runs):
    r = imaging_result()
    c = cond("original", {}, 0.65, groups=("negative", "positive"),
             extras={"roc": {"positive": roc_curve(0.65)}})
    AuditResult("imaging", r.data, [c, cond("lowpass", {"radius": 4}, 0.55,
                                             groups=("negative", "positive"))],
                extras={"task": "No Finding"}).write(tmp_path / "task_run")
    p = build_report([tmp_path / "task_run", runs])
    assert p["groups"] == list(GROUPS)  # negative/positive are classes, not race groups
    assert [(x["dataset"], x["task"]) for x in p["results"][:2]] == [
        ("synthetic-cxr", "No Finding"), ("synthetic-cxr", None)]
    assert p["results"][0]["label"] == "imaging · synthetic-cxr"
    assert p["results"][1]["label"] == "imaging · synthetic-cxr (R2)"
    assert p["roc"][0]["title"] == "imaging · synthetic-cxr: original (task No Finding)"
    html = render_html(p)
    assert "task: No Finding" in html
    svg = base64.b64decode(p["figures"]["auc_vs_strength"].split(",", 1)[1]).decode()
    # matplotlib writes each text of an SVG as a comment; only the race result is in the legend
    assert "<!-- imaging · synthetic-cxr (R2) -->" in svg
    assert "<!-- imaging · synthetic-cxr -->" not in svg


def test_report_names_every_input_by_its_sha256(tmp_path):
    import hashlib

    paths = write_all(tmp_path)
    payload = build_report([tmp_path], figures=False)
    got = sorted((i["file"], i["sha256"], i["schema"]) for i in payload["inputs"])
    want = sorted((f"{p.parent.name}/result.json", hashlib.sha256(p.read_bytes()).hexdigest(),
                   "racelens.audit/1") for p in paths)
    assert got == want
    assert {i["result"] for i in payload["inputs"]} == {r["id"] for r in payload["results"]}
    assert str(tmp_path) not in json.dumps(payload["inputs"])  # folder names only, no paths
