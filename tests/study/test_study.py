"""Study files: schema validation, presets against the real CLI, resumable steps, paper columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from racelens.cli.study import CliCommands
from racelens.errors import ConfigError
from racelens.shared.results import AuditResult
from racelens.study import PRESETS, parse_study, plan_study, preset_text, run_study
from racelens.study.schema import apply_overrides, load_study, parse_override


@pytest.fixture(scope="module")
def commands() -> CliCommands:
    return CliCommands()


MINI = """
[study]
name = "mini"
out = "{out}"
seed = 3

[data]
n = 20

[[steps]]
id = "cohort"
run = "synth"
options = { n-patients = "{data.n}", seed = "{seed}", image-size = 32, image-format = "png", out = "{out}/cohort" }

[[steps]]
id = "manifest"
run = "imaging manifest table"
[steps.options]
table = "{steps.cohort.out}/images.csv"
race-source = "mimic-iv"
sample-col = "sample_id"
out = "{out}/manifest.parquet"
"""


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_against_the_commands(name, commands):
    study = parse_study(preset_text(name), source=name)
    planned = plan_study(study, commands)
    assert [p.step.id for p in planned] == [s.id for s in study.steps]
    for p in planned:
        assert p.argv[:len(p.step.command)] == p.step.command
        assert "{" not in " ".join(p.argv)  # every reference resolved
    for row in study.paper:  # paper numbers name a step that writes a result.json
        assert planned[[s.id for s in study.steps].index(row.step)].out is not None


def test_gichoya_preset_carries_the_papers_numbers():
    study = parse_study(preset_text("gichoya2022-mimic"))
    got = {(p.condition, p.group): p.value for p in study.paper if p.step == "resnet34"}
    assert got == {("original", "Asian"): 0.986, ("original", "Black"): 0.982,
                   ("original", "White"): 0.981}
    assert all(p.source for p in study.paper)


@pytest.mark.parametrize(("text", "message"), [
    ("[study]\nname='x'\n[[steps]]\nid='a'\nrun='synth'\nfoo=1\n", r"steps\[0\]: unknown key 'foo'"),
    ("[study]\nname='x'\nbogus=1\n[[steps]]\nid='a'\nrun='synth'\n", r"\[study\]: unknown key 'bogus'"),
    ("[study]\nname='x'\n", "at least one"),
    ("[[steps]]\nid='a'\nrun='synth'\n", "needs 'name'"),
    ("[study]\nname='x'\n[[steps]]\nid='a'\nrun='synth'\n[[steps]]\nid='a'\nrun='synth'\n", "used twice"),
    ("[study]\nname='x'\n[[steps]]\nid='a'\nrun='synth'\n[[paper]]\nstep='b'\ncondition='original'\n"
     "group='macro'\nvalue=0.9\nsource='T1'\n", "step 'b' is not a step"),
    ("[study]\nname='x'\n[[steps]]\nid='a'\nrun='synth'\n[[paper]]\nstep='a'\ncondition='original'\n"
     "group='macro'\nsource='T1'\n", "give 'value' or both"),
    ("[study\n", "not valid TOML"),
])
def test_schema_errors_name_the_key(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_study(text, source="s.toml")


def test_unknown_option_and_command_are_refused_with_the_choices(commands):
    bad = parse_study(MINI.replace("race-source", "race-sauce"), source="s.toml")
    with pytest.raises(ConfigError, match=r"step 'manifest'.*unknown option 'race-sauce'.*race-source"):
        plan_study(bad, commands)
    bad = parse_study(MINI.replace('run = "imaging manifest table"', 'run = "imaging manifest tabel"'))
    with pytest.raises(ConfigError, match="no command `racelens imaging manifest tabel`.*table"):
        plan_study(bad, commands)
    bad = parse_study(MINI.replace("{data.n}", "{data.m}"))
    with pytest.raises(ConfigError, match=r"\{data.m\}: \[data\] has no key 'm'"):
        plan_study(bad, commands)


def test_overrides_set_step_options_data_and_seed():
    study = apply_overrides(parse_study(MINI), ["manifest.collapse=bw", "data.n=7", "study.seed=9",
                                                 "cohort.image-size=48"])
    assert study.step("manifest").options["collapse"] == "bw"
    assert study.step("cohort").options["image-size"] == 48
    assert study.data["n"] == 7 and study.seed == 9
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("a.b=lowpass:radius=4") == ("a.b", "lowpass:radius=4")
    with pytest.raises(ConfigError, match="no step 'nope'"):
        apply_overrides(study, ["nope.x=1"])
    with pytest.raises(ConfigError, match="bad override"):
        parse_override("novalue")


def test_steps_run_in_order_and_resume_skips_unchanged_ones(tmp_path, commands):
    path = tmp_path / "mini.toml"
    path.write_text(MINI.replace('"{out}"', f'"{tmp_path / "run"}"', 1))
    study = load_study(path)
    first = run_study(study, commands, report=False)
    assert first.ran == ("cohort", "manifest") and first.skipped == ()
    assert (tmp_path / "run" / "manifest.parquet").is_file()
    again = run_study(study, commands, resume=True, report=False)
    assert again.ran == () and again.skipped == ("cohort", "manifest")
    # a changed option reruns that step, and the step that reads its output
    changed = run_study(apply_overrides(study, ["cohort.n-patients=24"]), commands, resume=True,
                        report=False)
    assert changed.ran == ("cohort", "manifest")
    only = run_study(study, commands, only=("manifest",), report=False)
    assert only.ran == ("manifest",)
    doc = json.loads((tmp_path / "run" / "study.json").read_text())
    assert doc["schema"] == "racelens.study/1"
    assert [s["status"] for s in doc["steps"]] == ["not run", "ran"]
    with pytest.raises(ConfigError, match="--only 'bogus'"):
        run_study(study, commands, only=("bogus",), report=False)


def _numbers(run: Path) -> dict[str, list[tuple]]:
    out = {}
    for name in ("imaging", "covariates", "text"):
        r = AuditResult.read(run / name / "result.json")
        out[name] = [(c.condition.label, c.n_test, c.auc.macro.estimate, c.auc.macro.ci_low,
                      c.auc.macro.ci_high, tuple(sorted((g, e.estimate) for g, e in
                                                        c.auc.per_group.items())))
                     for c in r.conditions]
    return out


@pytest.mark.slow
def test_the_demo_study_reproduces_the_demo_exactly(tmp_path, commands):
    from racelens.demo.run import DemoConfig, known_answers, run_demo

    demo = run_demo(DemoConfig(out=tmp_path / "demo", quick=True))
    study = apply_overrides(parse_study(preset_text("demo-quick")), [f"study.out={tmp_path / 'study'}"])
    result = run_study(study, commands)
    assert _numbers(tmp_path / "demo") == _numbers(tmp_path / "study")
    results = {n: AuditResult.read(tmp_path / "study" / n / "result.json")
               for n in ("imaging", "covariates", "text")}
    study_answers = known_answers(results, {c.name.split(":")[0]: int(c.expected.split()[0])
                                            for c in demo.checks if "accounted" in c.name})
    assert [(a.name, a.observed, a.passed) for a in study_answers] == \
        [(a.name, a.observed, a.passed) for a in demo.checks]
    assert all(c.measured is not None for c in result.comparisons)
    assert (tmp_path / "study" / "report.html").is_file()
    report = json.loads((tmp_path / "study" / "report.json").read_text())
    section = next(s for s in report["sections"] if s["key"] == "study")
    rows = section["tables"][0]["rows"]
    assert [r[:3] for r in rows] == [[c.paper.step, c.paper.condition, c.paper.group]
                                     for c in result.comparisons]
    assert {i["file"] for i in report["inputs"]} >= {"imaging/result.json", "text/result.json",
                                                       "study/study.json"}
