"""Make a blinded reader study: one self-contained page, the item list and the organiser's key.

:func:`make_study` samples items (one per patient, stratified by group; with ``run`` from that
audit's test split, so humans and the model rate the same items), prepares each one as a reader
sees it (a note redacted at the study's level, or an image down-scaled to a PNG) and writes:

- ``reader.html``: the page (no network resource of any kind: images are data URIs, scripts and
  styles inline, a Content-Security-Policy forbids everything else). It holds the items and the
  group names, never the truth;
- ``items.csv``: ``item_id`` in presentation order, nothing else;
- ``key.json``: ``{item_id: group}``, for the organiser only (the page never reads it);
- ``study.json``: for the organiser: the condition, the groups, the seed and each item's
  sample and patient id (what ``racelens reader score`` needs to pair with a run);
- ``FILES.md``: the page and these files hold patient data.

Item ids are numbered after a seeded shuffle, so neither their order nor their numbers say
anything about groups; each reader then sees the items in their own order
(:func:`racelens.reader.order.reader_order`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError, ImageLoadError, LabelError
from racelens.shared.results import Condition

__all__ = ["STUDY_SCHEMA", "CANT_TELL", "StudyConfig", "Study", "make_study", "study_condition",
           "read_study", "FILES_EXTRA"]

log = logging.getLogger(__name__)

STUDY_SCHEMA = "racelens.reader-study/1"
CANT_TELL = "cant_tell"
Level = Literal["none", "explicit", "extended"]
_LEVELS = ("none", "explicit", "extended")

FILES_EXTRA = """# A reader study folder: it holds patient data by design

- `reader.html` - the page readers open: it contains the study's notes (redacted at the study's
  level) or images. Hand it out only inside the protected environment (a hospital laptop, a USB
  stick that stays there); it makes no network request.
- `items.csv` - the item ids in presentation order.
- `key.json` - each item's self-reported race group, and `study.json` - each item's sample and
  patient id: for the organiser only, never for the readers.
- Readers' answer CSVs - one row per item answered.

`racelens reader score` turns the answers into a `result.json` of aggregates (AUCs, agreement),
which the combined report and `racelens export` can use.
"""


@dataclass(frozen=True)
class StudyConfig:
    """Settings of ``racelens reader make``.

    Parameters
    ----------
    out
        Study folder to write.
    notes, manifest
        Exactly one: a note table (with ``text_col``, ``label_col``, ``patient_col``) or an
        imaging manifest (``racelens imaging manifest``).
    text_col, label_col, patient_col, sample_col, race_source, collapse
        Note table columns and label rules, as for ``racelens text audit`` (use the same
        ``sample_col`` as the audit when pairing with ``run``).
    level
        Redaction level of the notes shown (``none`` shows them unredacted).
    run
        An audit run folder: items are sampled from its test split under the study's condition.
    n
        Items to sample (about: each group gets its share of ``n`` rounded).
    seed
        Seed of the sampling, the item numbering and the readers' orders.
    image_size
        Longest side of the images shown, in pixels.
    confidence
        Show the optional confidence slider.
    """

    out: Path
    notes: Path | None = None
    manifest: Path | None = None
    text_col: str = "text"
    label_col: str = "race"
    patient_col: str = "patient_id"
    sample_col: str | None = None
    race_source: str = "auto"
    collapse: str = "abw"
    level: Level = "explicit"
    run: Path | None = None
    n: int = 200
    seed: int = 0
    image_size: int = 512
    confidence: bool = True

    def __post_init__(self) -> None:
        if (self.notes is None) == (self.manifest is None):
            raise ConfigError("give exactly one of --notes (a note table) or --manifest (images)")
        if self.level not in _LEVELS:
            raise ConfigError(f"level must be one of {_LEVELS}, got {self.level!r}")
        if self.n < 2:
            raise ConfigError(f"n must be at least 2, got {self.n}")
        if not 32 <= self.image_size <= 4096:
            raise ConfigError(f"image_size must be in [32, 4096], got {self.image_size}")

    @property
    def modality(self) -> str:
        return "text" if self.notes is not None else "imaging"

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Study:
    """What :func:`make_study` wrote (aggregates only, safe to print)."""

    out: Path
    page: Path
    items_csv: Path
    key: Path
    study_json: Path
    modality: str
    condition: Condition
    groups: dict[str, int]
    n_candidates: int
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return int(sum(self.groups.values()))


def study_condition(modality: str, level: str) -> Condition:
    """The condition a study's items are shown under: ``original`` or ``redact(level=L)``."""
    if modality == "imaging" or level == "none":
        return Condition("original")
    return Condition("redact", {"level": level})


def _pool(cfg: StudyConfig) -> tuple[pd.DataFrame, tuple[str, ...], str, str]:
    """Candidate samples (sample_id, patient_id, race, payload), group order, dataset, fingerprint."""
    from racelens.shared.labels import COLLAPSES

    if cfg.notes is not None:
        from racelens.text.sources import from_table

        cohort = from_table(cfg.notes, text_col=cfg.text_col, race_col=cfg.label_col,
                            patient_col=cfg.patient_col, sample_col=cfg.sample_col,
                            race_source=cfg.race_source, collapse=cfg.collapse)
        order = COLLAPSES[cohort.collapse].groups if cohort.collapse in COLLAPSES else ()
        table, dataset, fp = cohort.table, cohort.source, cohort.fingerprint()
        payload = "text"
    else:
        from racelens.imaging.sources.cohort import load_manifest

        manifest = load_manifest(cfg.manifest)  # type: ignore[arg-type]
        table, order = manifest.table, manifest.groups_order
        dataset, fp, payload = manifest.source, manifest.fingerprint(), "path"
    pool = pd.DataFrame({"sample_id": table["sample_id"].astype(str).to_numpy(),
                         "patient_id": table["patient_id"].astype(str).to_numpy(),
                         "race": table["race"].astype(str).to_numpy(),
                         "payload": table[payload].astype(str).to_numpy()})
    present = set(pool["race"])
    groups = tuple(g for g in order if g in present) + tuple(sorted(present - set(order)))
    return pool, groups, dataset, fp


def _restrict_to_run(pool: pd.DataFrame, cfg: StudyConfig, condition: Condition) -> pd.DataFrame:
    from racelens.reader.run import run_scores

    scores = run_scores(cfg.run, condition)  # type: ignore[arg-type]
    if scores.modality != cfg.modality:
        raise ConfigError(f"{cfg.run}: a {scores.modality} run cannot pair with a "
                          f"{cfg.modality} study; use --notes with a text run, --manifest with an "
                          "imaging run")
    kept = pool[pool["sample_id"].isin(set(scores.sample_ids))]
    if kept.empty:
        raise DataError(f"{cfg.run}: none of its test samples is in the input; give the table "
                        "(and --sample-col) the audit used")
    return kept


def _sample(pool: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """One random sample per patient, then about ``n`` patients stratified by group."""
    from racelens.shared.splits import patient_split

    rng = np.random.default_rng(seed)
    one = pool.iloc[rng.permutation(len(pool))].drop_duplicates("patient_id").reset_index(drop=True)
    if n < len(one):
        frac = n / len(one)
        chosen = patient_split(one[["patient_id", "race"]], "patient_id", "race",
                               fractions=(1 - frac, 0.0, frac), seed=seed) == "test"
        one = one[chosen.to_numpy()]
    if one["race"].nunique() < 2:
        raise LabelError(f"the sample holds one group only ({one['race'].iloc[0]!r}); a reader "
                         "study needs at least two groups: raise --n or check the labels")
    # numbering after a shuffle: neither ids nor their order carry group information
    return one.iloc[rng.permutation(len(one))].reset_index(drop=True)


def _image_uri(path: str, size: int) -> str:
    from PIL import Image

    from racelens.imaging.io.load import load_image

    arr = load_image(path)
    im = Image.fromarray(np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8), mode="L")
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _bodies(items: pd.DataFrame, cfg: StudyConfig) -> tuple[list[str | None], Counter[str]]:
    """What the reader sees per item; ``None`` where an image could not be read (counted)."""
    skipped: Counter[str] = Counter()
    if cfg.notes is not None:
        texts = items["payload"].tolist()
        if cfg.level == "none":
            return texts, skipped
        from racelens.text.redact.redactor import RaceRedactor

        return [r.text for r in RaceRedactor(level=cfg.level).redact_batch(texts)], skipped
    out: list[str | None] = []
    for path in items["payload"]:
        try:
            out.append(_image_uri(path, cfg.image_size))
        except ImageLoadError as exc:
            skipped[f"image not readable: {exc.reason}"] += 1
            out.append(None)
    return out, skipped


def render_page(*, study_id: str, title: str, kind: str, groups: list[str], seed: int,
                items: list[dict[str, str]], confidence: bool) -> str:
    """The reader page (template ``templates/reader.html.j2``) with the items embedded."""
    import jinja2

    source = files("racelens.reader").joinpath("templates/reader.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    config = {"study_id": study_id, "seed": seed, "groups": groups, "kind": kind,
              "confidence": confidence, "cant_tell": CANT_TELL}
    return env.from_string(source).render(title=title, config=config, items=items)


def make_study(config: StudyConfig) -> Study:
    """Sample the items and write the study folder (see the module doc).

    Raises
    ------
    ConfigError
        Bad options, or a run of the other modality.
    DataError, LabelError
        Unreadable inputs, a run whose test samples are not in the input, fewer than two groups.
    """
    from racelens.shared.run_files import write_files_note
    from racelens.shared.tables import atomic_write_json, atomic_write_text, check_writable_dir

    cfg = config
    out = check_writable_dir(cfg.out)
    condition = study_condition(cfg.modality, cfg.level)
    pool, groups, dataset, fingerprint = _pool(cfg)
    if cfg.run is not None:
        pool = _restrict_to_run(pool, cfg, condition)
    items = _sample(pool, cfg.n, cfg.seed)
    bodies, skipped = _bodies(items, cfg)
    keep = np.array([b is not None for b in bodies])
    items = items[keep].reset_index(drop=True)
    bodies = [b for b in bodies if b is not None]
    if items["race"].nunique() < 2:
        raise DataError("fewer than two groups left after unreadable images; check the manifest")
    width = max(3, len(str(len(items))))
    items["item_id"] = [f"item{i + 1:0{width}d}" for i in range(len(items))]
    groups = [g for g in groups if g in set(items["race"])]
    study_id = hashlib.sha256(json.dumps([cfg.seed, dataset, fingerprint, condition.label,
                                          items["sample_id"].tolist()]).encode()).hexdigest()[:16]
    page = render_page(study_id=study_id, title=f"Reader study {study_id[:8]}",
                       kind="image" if cfg.manifest is not None else "text", groups=groups,
                       seed=cfg.seed, confidence=cfg.confidence,
                       items=[{"id": i, "body": b} for i, b in zip(items["item_id"], bodies,
                                                                    strict=True)])
    out.mkdir(parents=True, exist_ok=True)
    paths = {"page": out / "reader.html", "items_csv": out / "items.csv", "key": out / "key.json",
             "study_json": out / "study.json"}
    atomic_write_text(paths["page"], page)
    atomic_write_text(paths["items_csv"], "item_id\n" + "".join(f"{i}\n" for i in items["item_id"]))
    atomic_write_json(paths["key"], dict(zip(items["item_id"], items["race"], strict=True)))
    counts = {g: int((items["race"] == g).sum()) for g in groups}
    atomic_write_json(paths["study_json"], {
        "schema": STUDY_SCHEMA, "study_id": study_id, "modality": cfg.modality,
        "condition": condition.to_dict(), "groups": groups, "seed": cfg.seed,
        "n_items": len(items), "group_counts": counts, "dataset": dataset,
        "fingerprint": fingerprint, "n_candidates": len(pool),
        "n_candidate_patients": int(pool["patient_id"].nunique()), "skipped": dict(skipped),
        "config": cfg.to_dict(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "items": items[["item_id", "sample_id", "patient_id"]].to_dict(orient="records")})
    write_files_note(out, extra=FILES_EXTRA)
    return Study(out, n_candidates=len(pool), modality=cfg.modality, condition=condition,
                 groups=counts, skipped=dict(skipped), **paths)


def read_study(study: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """A study folder's ``study.json`` and ``key.json``.

    Raises
    ------
    DataError
        When either file is missing or not a racelens reader study.
    """
    study = Path(study)
    out = []
    for name in ("study.json", "key.json"):
        path = study / name
        if not path.exists():
            raise DataError(f"{path}: not found; --study names the folder `racelens reader make` "
                            "wrote")
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from exc
    meta, key = out
    if meta.get("schema") != STUDY_SCHEMA:
        raise DataError(f"{study / 'study.json'}: schema is {meta.get('schema')!r}, expected "
                        f"{STUDY_SCHEMA!r}")
    if set(key) != {it["item_id"] for it in meta.get("items", [])}:
        raise DataError(f"{study / 'key.json'}: its items differ from study.json's; the folder "
                        "was edited, make the study again")
    return meta, {str(k): str(v) for k, v in key.items()}
