"""Suite-wide settings.

`make test` runs two pytest workers on two cores; torch's default thread pool (one thread per
core in every worker and every CLI subprocess) oversubscribes them and made audits ~4x slower.
One intra-op thread per process is set through the environment before anything imports torch,
so subprocesses started by the tests inherit it too.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
