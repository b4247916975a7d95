"""`racelens demo --quick`: the whole mission end to end, and the synthetic cohort's known answers.

The demo runs once (through ``racelens.cli.main.main``, as a user would run it) inside a single
test, so that ``pytest -n 2`` cannot run it once per worker; the ``_check_*`` helpers then read
what it wrote. The known answers are re-derived here from the ``result.json`` files, not taken
from the demo's own check list.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from racelens.cli import main as cli_main
from racelens.demo.run import DATASET, DemoConfig, known_answers, run_demo
from racelens.shared.results import AuditResult

SEED = 0


def _run_demo(out: Path) -> str:
    # tests/conftest.py gives torch one thread per process (two pytest workers on two cores)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            cli_main.main(["demo", "--quick", "--seed", str(SEED), "--out", str(out),
                           "--reader-study"])
            code = 0
        except SystemExit as exc:
            code = exc.code
    assert code in (0, None), buf.getvalue()
    return buf.getvalue()


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path):
    out = tmp_path / "run"
    stdout = _run_demo(out)
    results = {m: AuditResult.read(out / m / "result.json") for m in ("imaging", "covariates", "text")}
    _check_imaging(results)
    _check_covariates(results)
    _check_text(results)
    _check_accounting(out, results)
    _check_report_and_stdout(out, stdout)
    _check_known_answers_flag_a_failure(results)
    _check_reader_study(out, stdout)


def _check_reader_study(out: Path, stdout: str) -> None:
    """The optional step: a blinded study of the text run's test notes, listed apart from the
    known answers."""
    import json

    import pandas as pd

    meta = json.loads((out / "reader" / "study.json").read_text())
    preds = pd.read_parquet(out / "text" / "predictions.parquet")
    test_ids = set(preds.loc[preds["condition"] == "redact(level=explicit)", "sample_id"])
    assert 20 <= meta["n_items"] <= 40 and {it["sample_id"] for it in meta["items"]} <= test_ids
    assert "reader study (optional step, not a known answer)" in stdout
    assert "racelens reader score --study" in stdout


def _macro(result: AuditResult, name: str, **params):
    return result.condition(name, **params).auc.macro


def _check_imaging(results):
    img = results["imaging"]
    assert img.modality == "imaging"
    assert _macro(img, "original").estimate >= 0.9
    # the planted texture is at 34 cycles/image: low-pass filters below it leave about chance
    # (the interval covers 0.5 or the estimate is far below the original), high-pass keep it
    for r in (4, 8, 16, 24):
        low = _macro(img, "lowpass", radius=r)
        assert low.estimate < 0.7, (r, low)
        assert _macro(img, "highpass", radius=r).estimate >= 0.8, r
    # and the other way round once the radius passes the texture
    assert _macro(img, "lowpass", radius=40).estimate >= 0.9
    assert _macro(img, "highpass", radius=40).estimate < 0.7
    # down-sampling to 32 px puts the texture above the Nyquist frequency
    assert _macro(img, "resolution", size=32).estimate < 0.7
    assert {c.name for c in img.conditions} >= {"gaussian_noise", "patch"}


def _check_covariates(results):
    cov = results["covariates"]
    m = cov.conditions[0].auc.macro
    # Gichoya et al.'s confounder AUCs were 0.55-0.61; the quick cohort's test split has only
    # ~130 samples, so the interval (about +-0.1 wide) is asserted to overlap the band, and the
    # estimate to stay well away from the image's near-perfect AUC
    assert m.ci_low <= 0.65 and m.ci_high >= 0.55, m
    assert 0.5 < m.estimate < 0.75, m
    assert cov.extras["features"][:3] == ["age", "sex", "bmi"]


def _check_text(results):
    txt = results["text"]
    original = _macro(txt, "original")
    explicit = _macro(txt, "redact", level="explicit")
    stripped = [c for c in txt.conditions if c.name == "strip_proxies"]
    assert original.estimate >= 0.9
    assert explicit.ci_low > 0.5 and explicit.estimate < original.estimate
    assert stripped, "proxy stripping did not run"
    last = stripped[-1].auc.macro
    assert last.contains(0.5) or last.estimate < 0.6, last
    # the redaction check rides along: no residual explicit terms, gold spans scored
    check = txt.extras["check"]["explicit"]
    assert check["residual"]["n_mentions"] == 0
    assert check["spans"]["n_gold"] > 0 and check["spans"]["precision"] == 1.0
    assert check["proxies"], "the leakage probe lists no proxies"
    # the [RACE] token and deletion side by side (issue 13)
    assert _macro(txt, "redact", level="explicit", replacement="delete").estimate is not None
    # one condition, one number: the check's leakage AUC is the audit's AUC for the level
    assert check["leakage"]["auc"] == txt.condition("redact", level="explicit").auc.to_dict()


def _check_accounting(out, results):
    rows = {"imaging": len(pd.read_csv(out / "cohort" / "images.csv")),
            "text": len(pd.read_csv(out / "cohort" / "notes.csv"))}
    rows["covariates"] = rows["imaging"]
    for name, r in results.items():
        d = r.data
        assert d.n_samples + sum(d.excluded.values()) + len(d.skipped) == rows[name], name
    checks = known_answers(results, rows)
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]


def _check_report_and_stdout(out, stdout):
    for name in ("report.html", "report.json", "report.md"):
        assert (out / name).stat().st_size > 0, name
    payload = json.loads((out / "report.json").read_text())
    assert {r["modality"] for r in payload["results"]} == {"imaging", "covariates", "text"}
    assert {row["dataset"] for row in payload["headline"]} == {DATASET}
    assert f"report: {out / 'report.html'}" in stdout
    assert "FAIL" not in stdout and "PASS" in stdout
    assert "lowpass(radius=4)" in stdout
    # aggregates only: no patient or note identifiers reach the terminal or the report
    images = pd.read_csv(out / "cohort" / "images.csv")
    notes = pd.read_csv(out / "cohort" / "notes.csv")
    report = (out / "report.html").read_text() + (out / "report.md").read_text()
    for ident in [*images["patient_id"].astype(str)[:20], *notes["note_id"].astype(str)[:20]]:
        assert ident not in stdout and ident not in report


def _check_known_answers_flag_a_failure(results):
    # the checks are real: a cohort without the texture would fail the imaging ones
    imaging = results["imaging"]
    swapped = imaging.conditions[1]  # lowpass(radius=4), at chance
    fake = AuditResult(modality="imaging", data=imaging.data,
                       conditions=(type(swapped)(imaging.conditions[0].condition, swapped.auc,
                                                 swapped.p_value_vs_chance, swapped.n_test),
                                   *imaging.conditions[1:]),
                       config=imaging.config, seed=imaging.seed)
    checks = {c.name: c for c in known_answers({"imaging": fake}, {"imaging": imaging.data.n_input_rows})}
    assert not checks["imaging: original"].passed
    assert checks["imaging: every input row accounted for"].passed


def test_config_defaults():
    cfg = DemoConfig()
    assert cfg.out == Path("out/demo") and cfg.seed == 0 and not cfg.quick
    assert cfg.scale.n_patients > DemoConfig(quick=True).scale.n_patients
    assert callable(run_demo)
