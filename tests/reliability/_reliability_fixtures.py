"""Helpers shared by the reliability tests: run the CLI (in-process or as ``python -m racelens``)
capturing everything a user would see, and build small synthetic cohorts on disk.

Imported by the test modules of this folder (pytest puts the folder on ``sys.path``; it has no
``__init__.py``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from racelens.imaging.synthetic import synthetic_images, write_png
from racelens.shared.synthetic import synthetic_patients
from racelens.text.synthetic import synthetic_notes

__all__ = ["one_torch_thread", "CliRun", "run_cli", "run_module", "assert_clean_error",
           "assert_clean_success", "png_cohort", "note_table", "accounted", "SIZE"]

SIZE = 32  # image side of every imaging run in these tests


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread while a module runs: on two shared cores more threads only contend."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@dataclass(frozen=True)
class CliRun:
    """What one command showed the user: exit code, stdout, stderr (with warnings), log records."""

    code: int
    out: str
    err: str
    log: str = ""

    @property
    def everything(self) -> str:
        return "\n".join((self.out, self.err, self.log))


def run_cli(*args: str | os.PathLike[str]) -> CliRun:
    """Run ``racelens ARGS`` in this process through :func:`racelens.cli.main.main`.

    stdout/stderr are captured; every log record (DEBUG and up, any logger) is captured as text;
    warnings are shown as a normal run shows them (the test configuration turns racelens's own
    warnings into errors, which is not what a user's run does); an uncaught exception becomes a
    traceback on stderr and exit code 1, as in a real process.
    """
    from racelens.cli.main import main

    out, err, log = io.StringIO(), io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    code = 0
    try:
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("default")
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:  # what the interpreter does with an uncaught exception
                err.write(traceback.format_exc())
                code = 1
        for w in caught:
            err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, ""))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return CliRun(code, out.getvalue(), err.getvalue(), log.getvalue())


def run_module(*args: str | os.PathLike[str], env: dict[str, str] | None = None,
               timeout: float = 300, cwd: str | os.PathLike[str] | None = None) -> CliRun:
    """Run ``python -m racelens ARGS`` in a fresh interpreter (what a user's shell runs)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    full_env.pop("RACELENS_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "racelens", *map(str, args)], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=cwd)
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_error(run: CliRun, *needles: str) -> str:
    """Exit code 2, one line ``error: ...`` on stderr naming every needle; no traceback."""
    assert run.code == 2, (run.code, run.out, run.err)
    assert "Traceback" not in run.everything, run.err
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, run.err
    for needle in needles:
        assert needle.lower() in errors[0].lower(), (needle, errors[0])
    return errors[0]


def assert_clean_success(run: CliRun) -> None:
    assert run.code == 0, (run.code, run.out[-2000:], run.err[-4000:])
    assert "Traceback" not in run.everything, run.err


def png_cohort(root: Path, n_patients: int = 40, *, seed: int = 0,
               size: int = SIZE) -> pd.DataFrame:
    """Write 16-bit PNGs of synthetic radiographs under ``root/img`` and return their table.

    Columns: ``sample_id, patient_id, race_raw, path`` (relative to ``root``), ``age, sex, bmi``
    and the disease labels of :func:`synthetic_patients`.
    """
    patients = synthetic_patients(n_patients, seed=seed)
    images = synthetic_images(patients, size=size, seed=seed)
    paths = [f"img/{i}.png" for i in range(len(patients))]
    for p, image in zip(paths, images, strict=True):
        write_png(root / p, image)
    return patients.drop(columns=["race", "hispanic", "study_id"]).assign(path=paths)


def note_table(n_patients: int = 60, *, seed: int = 0) -> pd.DataFrame:
    """Synthetic notes: ``note_id, patient_id, sample_id, text, race_raw``."""
    notes = synthetic_notes(synthetic_patients(n_patients, seed=seed), seed=seed).notes
    return notes.rename(columns={"subject_id": "patient_id"}).drop(columns=["race"])


def accounted(data: dict) -> int:
    """``n_samples + sum(excluded) + len(skipped)`` of a result.json ``data`` block."""
    return int(data["n_samples"] + sum(data["excluded"].values()) + len(data["skipped"]))
