"""Study presets: the papers' recipes as commented study files, with their published numbers.

The paper presets are TOML files in ``racelens/study/preset_files/``; the ``demo`` presets are written
from the demo's own settings (:mod:`racelens.demo.run`), so ``racelens study init demo`` followed
by ``racelens study run`` runs exactly what ``racelens demo`` runs, with the same seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from racelens.errors import ConfigError
from racelens.shared.tables import atomic_write_text

__all__ = ["Preset", "PRESETS", "preset_text", "write_preset", "condition_spec"]


@dataclass(frozen=True)
class Preset:
    """A named study file: its one-line title and how its text is made."""

    name: str
    title: str
    text: Callable[[], str]


def _packaged(name: str) -> Callable[[], str]:
    return lambda: resources.files("racelens.study").joinpath("preset_files", f"{name}.toml").read_text("utf-8")


def condition_spec(name: str, params: dict[str, object]) -> str:
    """A condition as ``imaging audit --condition`` takes it: ``patch:grid=3;index=4``."""
    return name if not params else name + ":" + ";".join(f"{k}={v}" for k, v in params.items())


def _demo(quick: bool) -> Callable[[], str]:
    def text() -> str:
        from racelens.demo.run import (
            COVARIATES,
            MODEL_SIZE,
            NOTE_PROXIES,
            SCALES,
            demo_conditions,
        )

        s = SCALES["quick" if quick else "default"]
        conds = ",\n  ".join(f'"{condition_spec(c.name, dict(c.params))}"' for c in demo_conditions())
        flag = " --quick" if quick else ""
        return f'''# The built-in demo as a study: exactly what `racelens demo{flag}` runs (same seeds, same
# numbers), step by step, on a synthetic cohort whose answers are known. The [[paper]] rows are the
# demo's known answers (what the cohort was built to show), not a paper's numbers.
# Run: racelens study run study.toml

[study]
name = "demo{'-quick' if quick else ''}"
title = "racelens demo{flag}: synthetic cohort with known answers"
out = "out/study-demo{'-quick' if quick else ''}"
seed = 0

[[steps]]
id = "cohort"
run = "synth"
description = "DICOM radiographs with a planted high-band texture by group; notes with mentions and proxies"
[steps.options]
n-patients = {s.n_patients}
seed = "{{seed}}"
image-signal = "{s.image_signal}"
note-proxies = "{NOTE_PROXIES}"
image-size = {s.image_size}
image-format = "dicom"
race-source = "mimic-iv"
out = "{{out}}/cohort"

[[steps]]
id = "manifest"
run = "imaging manifest table"
[steps.options]
table = "{{steps.cohort.out}}/images.csv"
path-col = "path"
race-col = "race"
patient-col = "patient_id"
sample-col = "sample_id"
race-source = "mimic-iv"
collapse = "abw"
out = "{{out}}/imaging/manifest.parquet"

[[steps]]
id = "imaging"
run = "imaging audit"
description = "Small CNN at {MODEL_SIZE} px; filters bracket the texture's 34 cycles per image"
[steps.options]
manifest = "{{steps.manifest.out}}"
arch = "small_cnn"
size = {MODEL_SIZE}
epochs = {s.epochs}
batch-size = {s.batch_size}
lr = {s.lr}
patience = {s.epochs}
seed = "{{seed}}"
n-boot = {s.n_boot}
device = "cpu"
progress = false
condition = [
  {conds},
]
out = "{{out}}/imaging"

[[steps]]
id = "covariates"
run = "imaging baseline"
[steps.options]
manifest = "{{steps.manifest.out}}"
features = "{",".join(COVARIATES)}"
seed = "{{seed}}"
n-boot = {s.n_boot}
out = "{{out}}/covariates"

[[steps]]
id = "text"
run = "text audit"
[steps.options]
input = "{{steps.cohort.out}}/notes.csv"
text-col = "text"
label-col = "race"
patient-col = "subject_id"
sample-col = "note_id"
levels = "none,explicit,extended"
replacements = "{",".join(s.replacements)}"
strip-proxies = {s.strip_proxies}
proxy-step = {s.proxy_step}
race-source = "mimic-iv"
collapse = "abw"
seed = "{{seed}}"
n-boot = {s.n_boot}
out = "{{out}}/text"

[[paper]]
step = "imaging"
condition = "original"
group = "macro"
low = 0.90
high = 1.0
source = "demo known answer: the planted texture is visible"

[[paper]]
step = "imaging"
condition = "lowpass(radius=8)"
group = "macro"
low = 0.0
high = 0.70
source = "demo known answer: a low-pass filter below 34 cycles removes the texture"

[[paper]]
step = "imaging"
condition = "highpass(radius=8)"
group = "macro"
low = 0.80
high = 1.0
source = "demo known answer: a high-pass filter below 34 cycles keeps the texture"

[[paper]]
step = "covariates"
condition = "original"
group = "macro"
low = 0.55
high = 0.65
source = "demo known answer: confounders predict race weakly (Gichoya: 0.55-0.61)"

[[paper]]
step = "text"
condition = "original"
group = "macro"
low = 0.90
high = 1.0
source = "demo known answer: explicit terms give race away"
'''
    return text


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("gichoya2022-mimic", "Gichoya et al. 2022, MIMIC-CXR: ResNet34/DenseNet121, filters, "
           "tiles, confounders (published AUCs beside yours)", _packaged("gichoya2022-mimic")),
    Preset("gichoya2022-chexpert", "Gichoya et al. 2022, CheXpert: frontal, non-Hispanic, filters",
           _packaged("gichoya2022-chexpert")),
    Preset("glocker2023-chexpert", "Glocker et al. 2023, CheXpert No Finding: TPR/FPR at FPR 0.2, "
           "race probe on the disease model", _packaged("glocker2023-chexpert")),
    Preset("adam2022-mimic-notes", "Adam et al. 2022, MIMIC notes: Black vs White after explicit "
           "redaction", _packaged("adam2022-mimic-notes")),
    Preset("demo", "what `racelens demo` runs, as a study", _demo(quick=False)),
    Preset("demo-quick", "what `racelens demo --quick` runs, as a study", _demo(quick=True)),
)}


def preset_text(name: str) -> str:
    """The study file of preset ``name``."""
    if name not in PRESETS:
        raise ConfigError(f"no preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name].text()


def write_preset(name: str, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write preset ``name`` to ``out`` (refusing to replace an existing file unless asked)."""
    path = Path(out)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: exists; pass --force to overwrite it or choose another --out")
    return atomic_write_text(path, preset_text(name))
