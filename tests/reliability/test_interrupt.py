"""Nothing lost on interruption: outputs are written atomically, an interrupted run leaves no
finished-looking output, and a re-run (with ``--resume`` where the command has it) ends with the
same results as an uninterrupted run.

Each run is a real ``python -m racelens`` process, killed with SIGKILL or SIGINT once it is
demonstrably mid-run (its temporary output or first checkpoint exists).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from _reliability_fixtures import SIZE, note_table, png_cohort, run_module

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ENV.pop("RACELENS_DEBUG", None)


def _default_sigint() -> None:
    # A shell without job control starts background jobs with SIGINT ignored, and a child
    # inherits that (CI may run the suite so); Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "racelens", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=_default_sigint)


def _interrupt_when(proc: subprocess.Popen, ready: Callable[[], bool], sig: int,
                    timeout: float = 120) -> tuple[int, str]:
    """Send ``sig`` as soon as ``ready()`` holds while ``proc`` still runs; return (rc, stderr)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the run ended (rc {proc.returncode}) before it could be interrupted: "
                        f"{err[-1500:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run never reached the point to interrupt")
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


# --- text redact ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_notes(tmp_path_factory) -> Path:
    """About 4,000 realistic notes (~12 MB): 20 chunks of 200 rows, a few seconds to redact."""
    path = tmp_path_factory.mktemp("notes") / "notes.csv"
    notes = note_table(60)
    pd.concat([notes] * (4000 // len(notes) + 1), ignore_index=True).iloc[:4000].assign(
        note_id=lambda d: [f"n{i}" for i in range(len(d))]).to_csv(path, index=False)
    return path


def _redact_args(src: Path, out_dir: Path) -> tuple:
    return ("text", "redact", "-i", src, "-o", out_dir / "red.parquet", "--spans",
            out_dir / "spans.jsonl", "--id-col", "note_id", "--chunk-rows", "200", "--no-progress")


PARTS = ".red.parquet.parts"  # the hidden folder of finished chunks


def _parts_done(out_dir: Path) -> list[Path]:
    return sorted((out_dir / PARTS).glob("part-*.parquet"))


def _temp_output_growing(out_dir: Path, n_parts: int = 2) -> Callable[[], bool]:
    def ready() -> bool:  # some chunks are finished, most are not
        return len(_parts_done(out_dir)) >= n_parts
    return ready


def _only_hidden_leftovers(out_dir: Path) -> None:
    """An interrupted run leaves hidden temporary files and the parts folder, never an output."""
    assert not (out_dir / "red.parquet").exists()
    assert not (out_dir / "spans.jsonl").exists()
    assert all(p.name == PARTS or (p.name.startswith(".") and p.name.endswith(".tmp"))
               for p in out_dir.iterdir())


@pytest.fixture(scope="module")
def straight_redaction(big_notes: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight")
    run = run_module(*_redact_args(big_notes, out))
    assert run.code == 0, run.err
    assert "rows: 4000" in run.out
    (out / "stdout.txt").write_text(run.out)
    return out


def test_sigkill_mid_redaction_leaves_no_finished_output(big_notes: Path, tmp_path: Path,
                                                         straight_redaction: Path) -> None:
    proc = _start(*_redact_args(big_notes, tmp_path))
    rc, _ = _interrupt_when(proc, _temp_output_growing(tmp_path), signal.SIGKILL)
    assert rc == -signal.SIGKILL
    _only_hidden_leftovers(tmp_path)
    # a re-run without --resume discards the parts and gives exactly the uninterrupted result
    run = run_module(*_redact_args(big_notes, tmp_path))
    assert run.code == 0, run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["red.parquet", "spans.jsonl"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "red.parquet"),
                                  pd.read_parquet(straight_redaction / "red.parquet"))
    assert (tmp_path / "spans.jsonl").read_bytes() == (straight_redaction / "spans.jsonl").read_bytes()


def test_sigint_mid_redaction_cleans_up(big_notes: Path, tmp_path: Path) -> None:
    proc = _start(*_redact_args(big_notes, tmp_path))
    rc, err = _interrupt_when(proc, _temp_output_growing(tmp_path), signal.SIGINT)
    assert rc == 130, err  # typer turns KeyboardInterrupt into a silent exit 130
    assert "Traceback" not in err
    # no output and no temporary file; the finished chunks stay for a --resume
    assert [p.name for p in tmp_path.iterdir()] == [PARTS]
    assert not list((tmp_path / PARTS).glob("*.tmp"))


def test_redaction_resumes_after_sigkill(big_notes: Path, tmp_path: Path,
                                         straight_redaction: Path) -> None:
    proc = _start(*_redact_args(big_notes, tmp_path))
    _interrupt_when(proc, _temp_output_growing(tmp_path, n_parts=3), signal.SIGKILL)
    _only_hidden_leftovers(tmp_path)
    done = len(_parts_done(tmp_path))
    assert 3 <= done < 20
    run = run_module("-v", *_redact_args(big_notes, tmp_path), "--resume")
    assert run.code == 0, run.err
    assert f"resumed: {done} of 20 chunks were already redacted" in run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["red.parquet", "spans.jsonl"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "red.parquet"),
                                  pd.read_parquet(straight_redaction / "red.parquet"))
    assert (tmp_path / "spans.jsonl").read_bytes() == (straight_redaction / "spans.jsonl").read_bytes()
    assert run.out == _stats_lines(straight_redaction, tmp_path)  # the same aggregates


def _stats_lines(straight: Path, resumed: Path) -> str:
    """The straight run's stdout with its paths replaced by the resumed run's."""
    return (straight / "stdout.txt").read_text().replace(str(straight), str(resumed))


# --- imaging audit --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    png_cohort(root, 40).to_csv(root / "table.csv", index=False)
    run = run_module("imaging", "manifest", "table", "--table", root / "table.csv", "--out",
                     root / "manifest.parquet", "--race-col", "race_raw", "--sample-col",
                     "sample_id")
    assert run.code == 0, run.err
    return root / "manifest.parquet"


def _audit_args(manifest: Path, out: Path) -> tuple:
    return ("imaging", "audit", "--manifest", manifest, "--out", out, "--size", SIZE,
            "--epochs", 4, "--patience", 10, "--batch-size", 8, "--n-boot", 20, "--device", "cpu",
            "--no-progress", "-c", "lowpass:radius=4")


def test_imaging_audit_killed_after_a_checkpoint_resumes_to_the_same_result(
        manifest: Path, tmp_path: Path) -> None:
    straight = run_module(*_audit_args(manifest, tmp_path / "straight"))
    assert straight.code == 0, straight.err
    run = tmp_path / "killed"
    checkpoint = run / "train" / "original" / "checkpoint.pt"
    proc = _start(*_audit_args(manifest, run))
    rc, _ = _interrupt_when(proc, checkpoint.is_file, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert not (run / "result.json").exists()  # no finished-looking result
    assert not (run / "predictions.parquet").exists()
    resumed = run_module(*_audit_args(manifest, run), "--resume")
    assert resumed.code == 0, resumed.err
    a = json.loads((tmp_path / "straight" / "result.json").read_text())
    b = json.loads((run / "result.json").read_text())
    assert b["extras"]["training"]["original"]["resumed_from_epoch"] >= 1  # it did resume
    assert a["conditions"] == b["conditions"]
    assert a["data"] == b["data"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "straight" / "predictions.parquet"),
                                  pd.read_parquet(run / "predictions.parquet"))


def test_report_refuses_a_truncated_result(tmp_path: Path) -> None:
    # what a non-atomic writer killed mid-write would leave: it must not pass for a result
    run = tmp_path / "run"
    run.mkdir()
    (run / "result.json").write_text('{"schema": "racelens.audit/1", "modality": "text", "da')
    out = run_module("report", run, "--out", tmp_path / "report.html")
    assert out.code == 2 and "Traceback" not in out.err, out.err
    assert "result.json" in out.err and "not valid JSON" in out.err
    assert not (tmp_path / "report.html").exists()
