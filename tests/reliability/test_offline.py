"""Offline guarantee: the audits, the report and the demo run with the network blocked.

In-process, ``socket.socket.connect``/``connect_ex``, ``socket.create_connection`` and
``socket.getaddrinfo`` are replaced by functions that record the attempt and raise; every
attempt is a failure even if the caller swallowed the error (a silent fallback after a
connection attempt is still a network access). Unix-domain sockets stay allowed (local IPC).
The demo runs in a fresh interpreter with the same blocker installed by a ``sitecustomize.py``.
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
from pathlib import Path

import pytest
from _reliability_fixtures import (  # one_torch_thread: autouse
    SIZE,
    assert_clean_success,
    note_table,
    one_torch_thread,  # noqa: F401
    png_cohort,
    run_cli,
    run_module,
)

BLOCKER = '''
import socket

_ATTEMPTS = []


def _blocked(*args, **kwargs):
    _ATTEMPTS.append(repr(args[:2])[:200])
    raise OSError(101, "network blocked by the racelens offline test")


def _guard(method):
    def wrapper(self, *args, **kwargs):
        if self.family != getattr(socket, "AF_UNIX", None):
            return _blocked(self.family, *args)
        return method(self, *args, **kwargs)
    return wrapper


def install():
    socket.socket.connect = _guard(socket.socket.connect)
    socket.socket.connect_ex = _guard(socket.socket.connect_ex)
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked
'''


@pytest.fixture
def attempts(monkeypatch) -> list[str]:
    """Block the network for this test; returns the list of attempts made."""
    namespace: dict = {}
    exec(BLOCKER, namespace)  # the same code the subprocess's sitecustomize runs
    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, namespace["_guard"](getattr(socket.socket, name)))
    for name in ("create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, namespace["_blocked"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return namespace["_ATTEMPTS"]


def test_the_blocker_blocks(attempts: list[str]) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError):
            s.connect(("127.0.0.1", 9))
    finally:
        s.close()
    assert len(attempts) == 2


def test_audits_and_report_run_offline(attempts: list[str], tmp_path: Path) -> None:
    notes = note_table(50)
    notes.to_csv(tmp_path / "notes.csv", index=False)
    text = run_cli("text", "audit", "-i", tmp_path / "notes.csv", "-o", tmp_path / "text",
                   "--label-col", "race_raw", "--n-boot", 20, "--levels", "none,explicit")
    assert_clean_success(text)
    redact = run_cli("text", "redact", "-i", tmp_path / "notes.csv", "-o",
                     tmp_path / "red.parquet", "--no-progress")
    assert_clean_success(redact)
    check = run_cli("text", "check", "-i", tmp_path / "red.parquet", "-o", tmp_path / "check",
                    "--label-col", "race_raw", "--patient-col", "patient_id", "--n-boot", 20)
    assert_clean_success(check)

    png_cohort(tmp_path, 30).to_csv(tmp_path / "images.csv", index=False)
    manifest = run_cli("imaging", "manifest", "table", "--table", tmp_path / "images.csv",
                       "--out", tmp_path / "m.parquet", "--race-col", "race_raw",
                       "--sample-col", "sample_id")
    assert_clean_success(manifest)
    imaging = run_cli("imaging", "audit", "--manifest", tmp_path / "m.parquet", "--out",
                      tmp_path / "imaging", "--size", SIZE, "--epochs", 1, "--n-boot", 20,
                      "--device", "cpu", "--no-progress", "--arch", "small_cnn")
    assert_clean_success(imaging)
    report = run_cli("report", tmp_path / "text", tmp_path / "imaging", "--out",
                     tmp_path / "report" / "report.html")
    assert_clean_success(report)
    assert json.loads((tmp_path / "report" / "report.json").read_text())
    assert attempts == [], attempts


@pytest.mark.slow
def test_demo_quick_runs_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER + textwrap.dedent('''
        import atexit, os
        install()
        atexit.register(lambda: open(os.environ["RACELENS_NET_LOG"], "a").write(
            "\\n".join(_ATTEMPTS)))
    '''))
    log = tmp_path / "net.log"
    start = time.monotonic()
    run = run_module("demo", "--quick", "--out", tmp_path / "demo", timeout=420,
                     env={"PYTHONPATH": str(site), "RACELENS_NET_LOG": str(log),
                          "OMP_NUM_THREADS": "1"})
    elapsed = time.monotonic() - start
    assert_clean_success(run)
    assert log.exists(), "the blocker did not load (sitecustomize not imported)"
    assert log.read_text().strip() == "", log.read_text()  # every process appends its attempts
    assert (tmp_path / "demo" / "report.html").is_file()
    assert elapsed < 420
