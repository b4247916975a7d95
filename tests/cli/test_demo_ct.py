"""The demo's CT part (racelens demo --ct): per-series known answers on 60 synthetic series."""

from __future__ import annotations

from pathlib import Path

from racelens.demo.ct import CT_PATIENTS, ct_answers, run_ct_part
from racelens.demo.run import known_answers


def test_ct_part_known_answers(tmp_path: Path) -> None:
    result, n_input = run_ct_part(tmp_path, seed=0, n_boot=50)
    assert n_input == 2 * CT_PATIENTS
    for name, expected, condition, passed in ct_answers(result):
        assert passed, (name, expected, condition.auc.macro)
    answers = known_answers({"ct": result}, {"ct": n_input})
    assert all(a.passed for a in answers) and len(answers) == 3
    assert result.extras["unit"] == "sample" and result.config["slices"] == 4
