"""``racelens demo``: the whole audit end to end on a built-in synthetic cohort with known answers.

:func:`run_demo` writes a synthetic cohort in the real loaders' file layouts (DICOM folder +
``images.csv``, ``notes.csv``, gold spans), then passes it through the same code a user's data
takes:

1. ``OUT/cohort``: :func:`racelens.demo.synth.write_synthetic_cohort` (images with a high-band
   group texture, notes with explicit mentions at group-dependent rates and planted proxies);
2. ``OUT/imaging/manifest.parquet``: :func:`racelens.imaging.sources.cohort.from_table` on ``images.csv``
   (the DICOM files are read by the cache, as for real data);
3. ``OUT/imaging/result.json``: the imaging audit (small CNN, 64 px): ``original``, low-pass and
   high-pass filters around the texture's frequency, down-sampling, noise and a 3x3 tile;
4. ``OUT/covariates/result.json``: race from age, sex, BMI and disease labels (same split);
5. ``OUT/text/result.json``: the text audit (no / explicit / extended redaction, then proxy
   stripping) with the redaction check (gold-span scores, residual mentions, top proxies);
6. ``OUT/report.html`` (+ ``report.json``, ``report.md``): the combined report;
7. optionally (``reader_study``), ``OUT/reader``: a blinded reader study of the text audit's
   test notes (:func:`racelens.reader.make.make_study`), for people to answer: not a known answer.

The cohort is built so that the answers are known (see :data:`KNOWN_ANSWERS`): the texture sits
at 34 cycles per image, so every low-pass filter below that radius removes it and every high-pass
filter below it keeps it; covariates predict race weakly (macro AUC about 0.60, as Gichoya et al.
found for confounders); explicit terms give away race in notes, proxies keep some of it after
redaction, and nothing is left once the proxies are stripped. :class:`DemoResult` lists each
check with what was expected and what was observed.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racelens.shared.results import AuditResult, Condition, ConditionResult, Estimate

__all__ = ["DemoConfig", "DemoResult", "DemoScale", "KnownAnswer", "SummaryRow", "SCALES",
           "DATASET", "COVARIATES", "MODEL_SIZE", "NOTE_PROXIES",
           "run_demo", "known_answers", "demo_conditions"]

log = logging.getLogger(__name__)

# the "high" band sits at 34 cycles per image (racelens.imaging.synthetic); filters with radius
# up to 24 are far enough from it that spectral leakage does not matter
_REMOVES_BELOW = 24
MODEL_SIZE = 64
DATASET = "synthetic demo cohort"
# one explicit-mention rate for every group: a group-dependent rate would stay visible through
# the redactor's placeholder (how often a note names race at all), and the stripped notes would
# not reach chance; the proxies carry the signal that survives explicit redaction
NOTE_PROXIES = "strength=0.8,mention_rate=0.6"
COVARIATES = ("age", "sex", "bmi", "No Finding", "Cardiomegaly", "Pleural Effusion", "Edema",
               "Atelectasis")


@dataclass(frozen=True)
class DemoScale:
    """Cohort, signal and training sizes of one demo flavour (``quick`` or the default).

    ``image_signal`` and ``note_proxies`` are the specs of ``racelens synth``; ``strip_proxies``,
    ``proxy_step`` and ``replacements`` those of the text audit.
    """

    n_patients: int
    image_size: int
    image_signal: str
    epochs: int
    n_boot: int
    note_proxies: str = NOTE_PROXIES
    strip_proxies: int = 120
    proxy_step: int = 30
    # the [RACE] token and deletion: where groups' mention rates differ, the token's count is
    # itself a race signal that deletion removes (issue 13); both are cheap next to imaging
    replacements: tuple[str, ...] = ("token", "delete")
    batch_size: int = 16
    lr: float = 1e-3


SCALES: dict[str, DemoScale] = {
    # quick: 64-px images are written at model size (the cache's resize is the identity); the
    # default writes 128-px ones that the cache down-samples as it does real radiographs, which
    # attenuates the 34-cycle texture to about 0.38 of its amplitude, hence the stronger signal
    "quick": DemoScale(n_patients=200, image_size=64, image_signal="band=high,strength=1.0",
                       epochs=3, n_boot=200),
    "default": DemoScale(n_patients=1000, image_size=128, image_signal="band=high,strength=2.5",
                         epochs=4, n_boot=500),
}


@dataclass(frozen=True)
class DemoConfig:
    """Settings of ``racelens demo``.

    Parameters
    ----------
    out
        Run folder; the cohort, every ``result.json`` and the report go under it.
    quick
        The small cohort (about a minute on two CPU cores) instead of the default one.
    seed
        Seed of the cohort, the splits, the models and the bootstraps.
    progress
        Called with a one-line message (aggregates only) as each stage starts and ends.
    reader_study
        Also make a small blinded reader study (``OUT/reader``) from the text audit's test
        notes, for people to try the page: an optional step, not a known answer.
    ct
        Also run the CT part (:mod:`racelens.demo.ct`): a tree of axial CT series scored per
        series, with its own known answers.
    """

    out: Path = Path("out/demo")
    quick: bool = False
    seed: int = 0
    progress: Callable[[str], None] | None = None
    reader_study: bool = False
    ct: bool = False

    @property
    def scale(self) -> DemoScale:
        return SCALES["quick" if self.quick else "default"]


@dataclass(frozen=True)
class SummaryRow:
    """One row of the demo's results table."""

    modality: str
    condition: str
    macro_auc: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class KnownAnswer:
    """A known answer of the synthetic cohort: what it should be, what was measured."""

    name: str
    expected: str
    observed: str
    passed: bool


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` wrote and found.

    Attributes
    ----------
    results
        Modality (``imaging``, ``covariates``, ``text``) -> its ``result.json``.
    report
        ``html``, ``json``, ``md`` -> the combined report's files.
    summary
        Macro AUC with its interval per modality and condition.
    checks
        The known answers (:func:`known_answers`).
    seconds
        Wall time per stage.
    """

    results: dict[str, Path]
    report: dict[str, Path]
    summary: tuple[SummaryRow, ...]
    checks: tuple[KnownAnswer, ...]
    seconds: dict[str, float]
    reader_study: Path | None = None

    @property
    def passed(self) -> bool:
        """Whether every known answer held."""
        return all(c.passed for c in self.checks)


def demo_conditions() -> tuple[Condition, ...]:
    """The imaging conditions besides ``original`` (radii in 64-px frequency units).

    Low- and high-pass radii bracket the texture's 34 cycles per image: 4 to 24 remove it
    (low-pass) or keep it (high-pass); 40 does the opposite. (32 is left out: the texture's
    frequency jitters around 34 and leaks into neighbouring FFT bins, so 32 only halves it.)
    """
    radii = (4, 8, 16, 24, 40)
    return (*(Condition("lowpass", {"radius": r}) for r in radii),
            *(Condition("highpass", {"radius": r}) for r in radii),
            Condition("resolution", {"size": 32}),
            *(Condition("gaussian_noise", {"sigma": s}) for s in (0.05, 0.2)),
            Condition("patch", {"grid": 3, "index": 4}))


def _ci(e: Estimate) -> str:
    if e.estimate is None:
        return "n/a"
    if e.ci_low is None or e.ci_high is None:
        return f"{e.estimate:.3f}"
    return f"{e.estimate:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"


def _answer(name: str, expected: str, c: ConditionResult, passed: bool) -> KnownAnswer:
    return KnownAnswer(name, expected, _ci(c.auc.macro), bool(passed))


def known_answers(results: dict[str, AuditResult],
                  input_rows: dict[str, int]) -> tuple[KnownAnswer, ...]:
    """Check the synthetic cohort's known answers on the audits' results.

    Parameters
    ----------
    results
        ``imaging``, ``covariates`` and ``text`` results of the demo (any subset).
    input_rows
        Rows of each audit's input table, for the accounting check.
    """
    out: list[KnownAnswer] = []
    if "ct" in results:
        from racelens.demo.ct import ct_answers

        out += [_answer(*a) for a in ct_answers(results["ct"])]
    img = results.get("imaging")
    if img is not None:
        orig = img.condition("original")
        out.append(_answer("imaging: original", ">= 0.90", orig, (orig.auc.macro.estimate or 0) >= 0.9))
        for c in img.conditions:
            radius = c.params.get("radius")
            if c.name == "lowpass" and radius is not None and radius <= _REMOVES_BELOW:
                out.append(_answer(f"imaging: {c.condition.label} removes the texture",
                                   "< 0.70 (toward chance)", c, (c.auc.macro.estimate or 1) < 0.7))
            if c.name == "highpass" and radius is not None and radius <= _REMOVES_BELOW:
                out.append(_answer(f"imaging: {c.condition.label} keeps the texture", ">= 0.80", c,
                                   (c.auc.macro.estimate or 0) >= 0.8))
    cov = results.get("covariates")
    if cov is not None:
        m = cov.conditions[0].auc.macro
        overlaps = m.ci_low is not None and m.ci_high is not None and m.ci_low <= 0.65 and m.ci_high >= 0.55
        out.append(_answer("covariates: age, sex, BMI, diseases", "0.55-0.65 (interval overlaps)",
                           cov.conditions[0], overlaps))
    txt = results.get("text")
    if txt is not None:
        orig = txt.condition("original")
        red = txt.condition("redact", level="explicit")
        stripped = [c for c in txt.conditions if c.name == "strip_proxies"]
        o, r = orig.auc.macro, red.auc.macro
        out.append(_answer("text: explicit terms present", ">= 0.90", orig, (o.estimate or 0) >= 0.9))
        out.append(_answer("text: explicit terms redacted (proxies left)",
                           "above chance (CI low > 0.5), below original", red,
                           (r.ci_low or 0) > 0.5 and (r.estimate or 1) < (o.estimate or 0)))
        if stripped:
            s = stripped[-1].auc.macro
            out.append(_answer(f"text: {stripped[-1].condition.label}", "near chance "
                               "(CI contains 0.5 or < 0.60)", stripped[-1],
                               s.contains(0.5) or (s.estimate or 1) < 0.6))
    for name, r in results.items():
        d = r.data
        accounted = d.n_samples + sum(d.excluded.values()) + len(d.skipped)
        want = input_rows.get(name)
        out.append(KnownAnswer(f"{name}: every input row accounted for",
                               f"{want} rows", f"{d.n_samples} used + {sum(d.excluded.values())} "
                               f"excluded + {len(d.skipped)} skipped", accounted == want))
    return tuple(out)


def _summary(results: dict[str, AuditResult]) -> tuple[SummaryRow, ...]:
    return tuple(SummaryRow(mod, c.condition.label, c.auc.macro.estimate, c.auc.macro.ci_low,
                            c.auc.macro.ci_high)
                 for mod, r in results.items() for c in r.conditions)


class _Stages:
    """Times the stages and reports them through the progress callback."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress, self.seconds = progress, {}  # type: dict[str, float]
        self._t0 = 0.0

    def start(self, name: str, message: str) -> None:
        self._t0 = time.perf_counter()
        log.info("demo: %s", message)
        if self.progress is not None:
            self.progress(message)

    def done(self, name: str, message: str) -> None:
        self.seconds[name] = round(time.perf_counter() - self._t0, 2)
        text = f"{message} ({self.seconds[name]:.1f} s)"
        log.info("demo: %s", text)
        if self.progress is not None:
            self.progress(text)


def _rows(path: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(path))


def _text_check(cohort_dir: Path, seed: int, n_boot: int) -> dict[str, Any]:
    """The redaction check at level ``explicit`` with gold spans and the leakage probe."""
    import json

    import pandas as pd

    from racelens.shared.labels import label_cohort
    from racelens.text.check.report import check_redaction
    from racelens.text.redact.redactor import RaceRedactor

    notes = pd.read_csv(cohort_dir / "notes.csv")
    gold: dict[str, list[tuple[int, int]]] = {}
    for line in (cohort_dir / "gold_spans.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        gold.setdefault(rec["note_id"], []).append((rec["start"], rec["end"]))
    labeled = label_cohort(notes, "race", "subject_id", "mimic-iv", "abw", "drop").table
    texts = labeled["text"].astype(str).tolist()
    redacted = [r.text for r in RaceRedactor(level="explicit").redact_batch(texts)]
    report = check_redaction(redacted, original_texts=texts, labels=labeled["race"].astype(str).tolist(),
                             patient_ids=labeled["subject_id"].astype(str).tolist(),
                             gold_spans=[gold.get(n, []) for n in labeled["note_id"]],
                             level="explicit", seed=seed, n_boot=n_boot)
    return report.to_dict()


def _named(result: AuditResult, folder: Path) -> AuditResult:
    """The result with its dataset named ``DATASET`` (the report's dataset column), rewritten."""
    from dataclasses import replace

    named = replace(result, data=replace(result.data, dataset=DATASET))
    named.write(folder)
    return named


def _reader_study(out: Path, notes_csv: Path, config: DemoConfig, stages: _Stages) -> Path:
    """The optional step: a blinded reader study of the text audit's test notes (explicit level)."""
    from racelens.reader.make import StudyConfig, make_study

    stages.start("reader", "reader study: a blinded page of test notes (optional, no known answer)")
    study = make_study(StudyConfig(
        out=out / "reader", notes=notes_csv, patient_col="subject_id", sample_col="note_id",
        race_source="mimic-iv", collapse="abw", level="explicit", run=out / "text",
        n=30 if config.quick else 60, seed=config.seed))
    stages.done("reader", f"reader study: {study.n_items} items in {study.page}")
    return study.page


def run_demo(config: DemoConfig) -> DemoResult:
    """Generate the synthetic cohort, run every audit, write the report, check the answers.

    Returns
    -------
    DemoResult
        Paths of every ``result.json`` and of the report, a results table and the known answers
        (a failed check is reported, not raised).
    """
    from racelens.demo.synth import write_synthetic_cohort
    from racelens.imaging.audit.baselines import CovariateBaselineConfig, run_covariate_baseline
    from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
    from racelens.imaging.sources.cohort import from_table, write_manifest
    from racelens.shared.report.build import write_report
    from racelens.text.audit import TextAuditConfig, run_text_audit

    out, scale, seed = Path(config.out), config.scale, config.seed
    stages = _Stages(config.progress)

    stages.start("cohort", f"writing a synthetic cohort of {scale.n_patients} patients")
    synth = write_synthetic_cohort(out / "cohort", scale.n_patients, seed=seed,
                                   image_signal=scale.image_signal, note_proxies=scale.note_proxies,
                                   image_size=scale.image_size, image_format="dicom")
    stages.done("cohort", f"cohort: {len(synth.image_files)} DICOM images, {synth.n_notes} notes")

    stages.start("manifest", "building the imaging manifest through the table loader")
    cohort = from_table(synth.images_csv, path_col="path", race_col="race", patient_col="patient_id",
                        sample_col="sample_id", race_source="mimic-iv", collapse="abw")
    manifest, _ = write_manifest(cohort, out / "imaging" / "manifest.parquet")
    stages.done("manifest", f"manifest: {len(cohort.table)} images kept, "
                f"{sum(cohort.excluded.values())} excluded, {len(cohort.skipped)} skipped")

    # the cohort is written afresh on every run, but the image cache is keyed by ids, labels and
    # paths, which cannot see that the pixels changed (another racelens version, a rerun into an
    # old folder): start from an empty cache
    shutil.rmtree(out / "imaging" / "cache", ignore_errors=True)
    stages.start("imaging", f"imaging audit: small CNN at {MODEL_SIZE} px, "
                 f"{len(demo_conditions()) + 1} conditions")
    imaging = _named(run_imaging_audit(ImagingAuditConfig(
        manifest=manifest, out=out / "imaging", arch="small_cnn", size=MODEL_SIZE,
        epochs=scale.epochs, batch_size=scale.batch_size, lr=scale.lr, seed=seed,
        conditions=demo_conditions(), n_boot=scale.n_boot, device="cpu", progress=False,
        patience=scale.epochs)), out / "imaging")
    stages.done("imaging", f"imaging: original macro AUC {_ci(imaging.conditions[0].auc.macro)}")

    stages.start("covariates", "covariate baseline: " + ", ".join(COVARIATES))
    covariates = _named(run_covariate_baseline(CovariateBaselineConfig(
        manifest=manifest, out=out / "covariates", features=COVARIATES, seed=seed,
        n_boot=scale.n_boot)), out / "covariates")
    stages.done("covariates", f"covariates: macro AUC {_ci(covariates.conditions[0].auc.macro)}")

    stages.start("text", "text audit: redaction levels none/explicit/extended, proxy stripping")
    text = run_text_audit(TextAuditConfig(
        synth.notes_csv, text_col="text", label_col="race", patient_col="subject_id",
        sample_col="note_id", out=out / "text", levels=("none", "explicit", "extended"),
        replacements=scale.replacements, strip_proxies=scale.strip_proxies,
        proxy_step=scale.proxy_step, race_source="mimic-iv",
        collapse="abw", seed=seed, n_boot=scale.n_boot))
    checks = dict(text.extras.get("check", {}))
    checks["explicit"] = _text_check(out / "cohort", seed, scale.n_boot)
    text = _named(text.with_extras(check=checks), out / "text")  # again, with the fuller check
    stages.done("text", f"text: original {_ci(text.conditions[0].auc.macro)}, "
                f"last {text.conditions[-1].condition.label} {_ci(text.conditions[-1].auc.macro)}")

    page = _reader_study(out, synth.notes_csv, config, stages) if config.reader_study else None

    results = {"imaging": imaging, "covariates": covariates, "text": text}
    input_rows: dict[str, int] = {}
    if config.ct:
        from racelens.demo.ct import CT_PATIENTS, run_ct_part

        stages.start("ct", f"CT part: {2 * CT_PATIENTS} synthetic CT series, scored per series")
        ct, input_rows["ct"] = run_ct_part(out, seed=seed, n_boot=scale.n_boot)
        results["ct"] = _named(ct, out / "ct")
        stages.done("ct", f"ct: per-series macro AUC {_ci(ct.conditions[0].auc.macro)}, "
                    f"n_test {ct.conditions[0].n_test} series")
    paths = {name: out / name / "result.json" for name in results}
    stages.start("report", "writing the combined report")
    report = write_report(list(paths.values()), out / "report.html")
    stages.done("report", f"report: {report['html']}")

    n_images = _rows(synth.images_csv)
    answers = known_answers(results, {"imaging": n_images, "covariates": n_images,
                                      "text": _rows(synth.notes_csv), **input_rows})
    return DemoResult(results=paths, report=dict(report), summary=_summary(results),
                      checks=answers, seconds=dict(stages.seconds), reader_study=page)
