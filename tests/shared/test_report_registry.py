"""Report sections, attachments and strength axes registered from outside the shared layer."""

from __future__ import annotations

import json

import pytest
from _report_fixtures import cond, imaging_result, text_result

from racelens.errors import ConfigError
from racelens.shared.report.build import build_report, render_html, render_markdown, write_report
from racelens.shared.report.registry import (
    AttachmentType,
    Card,
    ReportSection,
    SectionView,
    Table,
    register_attachment,
    register_section,
    strength_axis,
    unregister_section,
)
from racelens.shared.report.strength import strength_point
from racelens.shared.results import AuditResult, ConditionResult, Strength

SCHEMA = "racelens.test_probe/1"


def _render(docs):
    rows = [[str(o), o.result or "-", d["method"], f"{d['score']:.2f}"] for o, d in docs]
    return SectionView(tables=[Table("Scores", ["origin", "result", "method", "score"], rows)],
                       cards=[Card("One card", facts=[("methods", str(len(docs)))],
                                   chips=["tile-3"])],
                       notes=["made by a test"], data=[d["method"] for _, d in docs])


@pytest.fixture
def section():
    register_attachment(AttachmentType(key="test_probe", schema=SCHEMA))
    register_section(ReportSection(key="test_probe", title="A test section", schemas=(SCHEMA,),
                                   render=_render, order=5, lead="Registered in a test."))
    yield
    unregister_section("test_probe")


def test_registered_section_shows_up_from_documents_and_attachments(tmp_path, section):
    r = imaging_result()
    r = r.with_extras(test_probe={"method": "attached", "score": 0.5})
    r.write(tmp_path / "imaging")
    (tmp_path / "imaging" / "probe.json").write_text(json.dumps(
        {"schema": SCHEMA, "method": "beside", "score": 0.75}))
    (tmp_path / "alone").mkdir()  # a folder of documents only, no result.json
    (tmp_path / "alone" / "probe.json").write_text(json.dumps(
        {"schema": SCHEMA, "method": "alone", "score": 0.25}))
    (tmp_path / "alone" / "other.json").write_text(json.dumps({"schema": "unknown/1"}))
    p = build_report([tmp_path / "imaging", tmp_path / "alone"], figures=False)
    assert p["test_probe"] == ["attached", "beside", "alone"]
    sec = next(s for s in p["sections"] if s["key"] == "test_probe")
    assert sec["title"] == "A test section" and sec["notes"] == ["made by a test"]
    assert sec["tables"][0]["rows"] == [
        ["imaging · synthetic-cxr", "R1", "attached", "0.50"],
        ["imaging · synthetic-cxr", "R1", "beside", "0.75"],
        ["alone", "-", "alone", "0.25"]]
    assert [s["key"] for s in p["sections"]][0] == "test_probe"  # order 5: before fairness
    html = render_html(p)
    assert '<section id="test_probe">' in html and '<a href="#test_probe">A test section</a>' in html
    assert "Registered in a test." in html and "<span>tile-3</span>" in html and ">0.75<" in html
    md = render_markdown(p)
    assert "## A test section" in md and "| imaging · synthetic-cxr | R1 | beside | 0.75 |" in md
    assert "- methods: 3" in md


def test_section_not_drawn_without_documents_but_key_kept(tmp_path, section):
    imaging_result().write(tmp_path / "imaging")
    p = build_report([tmp_path / "imaging"], figures=False)
    assert p["test_probe"] == [] and "test_probe" not in [s["key"] for s in p["sections"]]


def test_report_json_keeps_section_data_without_figures(tmp_path, section):
    r = imaging_result().with_extras(test_probe={"method": "m", "score": 1.0})
    r.write(tmp_path / "imaging")
    written = write_report([tmp_path / "imaging"], tmp_path / "report.html")
    data = json.loads(written["json"].read_text())
    assert data["test_probe"] == ["m"] and all(s["figures"] == [] for s in data["sections"])


def test_a_schema_has_one_section(section):
    with pytest.raises(ConfigError, match="already rendered by section 'test_probe'"):
        register_section(ReportSection(key="other", title="x", schemas=(SCHEMA,), render=_render))


def test_one_schema_two_modalities_two_sections(tmp_path):
    def render(docs):
        return SectionView(data=[d["modality"] for _, d in docs])

    for m in ("imaging", "text"):
        register_section(ReportSection(key=f"probe_{m}", title=m, schemas=(SCHEMA,),
                                       render=render, modality=m))
    try:
        with pytest.raises(ConfigError, match="already rendered"):  # one for all clashes
            register_section(ReportSection(key="all", title="x", schemas=(SCHEMA,),
                                           render=render))
        imaging_result().write(tmp_path / "imaging")
        for m in ("imaging", "text"):
            (tmp_path / "imaging" / f"{m}.json").write_text(json.dumps(
                {"schema": SCHEMA, "modality": m}))
        p = build_report([tmp_path / "imaging"], figures=False)
        assert p["probe_imaging"] == ["imaging"] and p["probe_text"] == ["text"]
    finally:
        for m in ("imaging", "text"):
            unregister_section(f"probe_{m}")


def test_a_stored_strength_is_drawn_as_given_and_round_trips():
    s = Strength("shortcut", "p", 0.3, (0.3,), "30%", "A family no one registered")
    c = cond("shortcut", {"p": 0.3}, 0.7)
    c = ConditionResult(c.condition, c.auc, c.p_value_vs_chance, c.n_test, strength=s)
    assert strength_point(c) == s
    back = ConditionResult.from_dict(json.loads(json.dumps(c.to_dict())))
    assert back.strength == s and back == c


def test_old_results_without_strength_are_placed_by_the_registry():
    r = AuditResult.from_dict(json.loads(text_result().to_json()))
    assert all(c.strength is None for c in r.conditions)
    assert strength_axis("redact", "text") is not None
    points = {c.condition.label: strength_point(c, "text") for c in r.conditions}
    assert points["original"].tick == "none" and points["original"].family == "redaction"
    img = imaging_result()
    assert strength_point(img.conditions[0], "imaging") is None
    low = strength_point(img.condition("lowpass", radius=10), "imaging")
    assert (low.family, low.parameter, low.value, low.rank, low.label) == (
        "lowpass", "radius", 10, (-10.0,), "10")
