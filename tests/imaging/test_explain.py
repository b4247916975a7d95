"""``imaging explain`` on audited synthetic runs with a known answer: a texture planted in one
frequency band and one region (band, location, size and strength vary across the fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _image_fixtures import synthetic_manifest

from racelens.errors import ConfigError
from racelens.imaging.audit.run import ImagingAuditConfig, run_imaging_audit
from racelens.imaging.explain import EXPLAIN_SCHEMA, ExplainConfig, read_explain, run_explain
from racelens.imaging.explain.bands import corner_radius, ring_edges
from racelens.imaging.explain.tiles import area_share
from racelens.imaging.synthetic import ImageSignal

SIZE = 64

AUC_KEYS = {"macro", "per_group"}


def _explained(root: Path, signal: ImageSignal, *, permute: bool = False, epochs: int = 5,
               **explain_kw) -> dict:
    manifest = synthetic_manifest(root, signal, size=SIZE, n_patients=200, seed=1,
                                  permute_seed=2 if permute else None)
    run_imaging_audit(ImagingAuditConfig(manifest=manifest, out=root / "run", size=SIZE,
                                         epochs=epochs, batch_size=32, lr=3e-3, seed=0, n_boot=100,
                                         device="cpu", progress=False))
    kw = dict(n_boot=200, attribution_samples=96, sanity_samples=24, ig_steps=8, device="cpu",
              progress=False)
    kw.update(explain_kw)
    run_explain(ExplainConfig(run=root / "run", manifest=manifest, out=root / "explain", **kw))
    # the folder says what may leave the protected environment, as every run folder does
    assert "`explain.json`" in (root / "explain" / "FILES.md").read_text()
    return read_explain(root / "explain")


@pytest.fixture(scope="module")
def quadrant(tmp_path_factory) -> dict:
    """High band (34 cycles) in the top-left quadrant: one tile of a 2x2 grid, 8 log rings."""
    signal = ImageSignal(band="high", strength=2.0, location="box", box=(0.0, 0.0, 0.5, 0.5))
    return _explained(tmp_path_factory.mktemp("quadrant"), signal, grid=2, bands=8)


@pytest.fixture(scope="module")
def small_tile(tmp_path_factory) -> dict:
    """Mid band (14 cycles) in one 16-px tile (row 1, col 2) of a 4x4 grid; explicit ring edges."""
    signal = ImageSignal(band="mid", strength=1.5, location="box", box=(0.25, 0.5, 0.5, 0.75))
    return _explained(tmp_path_factory.mktemp("tile"), signal, grid=4,
                      band_edges=(0, 1, 8, 22, 46))


@pytest.fixture(scope="module")
def null(tmp_path_factory) -> dict:
    """No signal (strength 0) and labels permuted across patients."""
    return _explained(tmp_path_factory.mktemp("null"), ImageSignal(band="low", strength=0.0),
                      permute=True, epochs=3, grid=2, bands=4, methods=("gradcam",),
                      fractions=(0.3,))


def _macro(block: dict) -> float:
    return block["macro"]["estimate"]


def _planted_band(doc: dict, frequency: float) -> int:
    return next(i for i, b in enumerate(doc["bands"]) if b["inner"] <= frequency < b["outer"])


def test_rings_are_contiguous_from_zero_past_the_corner():
    rings = ring_edges(SIZE, bands=8)
    assert rings[0].inner == 0 and rings[0].outer == 1
    assert all(a.outer == b.inner for a, b in zip(rings, rings[1:], strict=False))
    assert corner_radius(SIZE) < rings[-1].outer < corner_radius(SIZE) + 0.02
    with pytest.raises(ConfigError, match="must reach past the corner radius 45.25"):
        ring_edges(SIZE, edges=(0, 10, 40))
    with pytest.raises(ConfigError, match="must increase strictly"):
        ring_edges(SIZE, edges=(0, 10, 10, 50))


@pytest.mark.parametrize("name", ["quadrant", "small_tile"])
def test_planted_band_is_the_necessary_ring(name, request):
    doc = request.getfixturevalue(name)
    frequency = {"quadrant": 34.0, "small_tile": 14.0}[name]
    planted = _planted_band(doc, frequency)
    assert doc["extras"]["summary"]["necessary_band"] == planted
    assert doc["extras"]["summary"]["sufficient_band"] == planted
    assert _macro(doc["bands"][planted]["remove"]) < 0.7 < _macro(doc["original"])


@pytest.mark.parametrize(("name", "row", "col"), [("quadrant", 0, 0), ("small_tile", 1, 2)])
def test_planted_tile_first_and_attribution_mass_concentrates_there(name, row, col, request):
    doc = request.getfixturevalue(name)
    grid = doc["tiles"]["grid"]
    assert doc["extras"]["summary"]["top_tile"] == {"row": row, "col": col}
    keep = {(c["row"], c["col"]): _macro(c["keep"]) for c in doc["tiles"]["cells"]}
    assert max(keep, key=keep.get) == (row, col)
    share = area_share(SIZE, grid)[row, col]
    assert [a["method"] for a in doc["attribution"]] == ["integrated_gradients", "gradcam", "occlusion"]
    for a in doc["attribution"]:
        mass = np.asarray(a["mass"])
        assert mass.shape == (grid, grid) and mass.sum() == pytest.approx(1.0, abs=1e-5)
        assert mass[row, col] >= 1.5 * share, (a["method"], mass)
        assert set(a["per_group"]) == {"Asian", "Black", "White"}
        for m in a["per_group"].values():
            assert np.asarray(m).sum() == pytest.approx(1.0, abs=1e-5)
        rho = a["sanity"]["randomized_rank_correlation"]
        assert -1 <= rho <= 1 and a["sanity"]["passed"] == (rho < 0.5)


@pytest.mark.parametrize("name", ["quadrant", "small_tile"])
def test_deleting_top_attributed_pixels_reaches_chance_random_does_not(name, request):
    doc = request.getfixturevalue(name)
    at30 = next(d for d in doc["deletion"] if d["fraction"] == 0.3)
    assert _macro(at30["top"]) < 0.65
    assert _macro(at30["random"]) > _macro(at30["top"]) + 0.1
    assert at30["random"]["macro"]["ci_low"] > 0.5
    assert [d["fraction"] for d in doc["deletion"]] == [0.05, 0.1, 0.2, 0.3]


def test_no_signal_every_interval_covers_chance(null):
    for block in (null["original"], null["intensity"]):
        m = block["macro"]
        assert m["ci_low"] <= 0.5 <= m["ci_high"], m
    # the conditions are a family of 18 intervals of one model: at 95 % each, about one would
    # miss 0.5 by chance, so they are checked family-wise (Bonferroni: z 2.99 instead of 1.96)
    blocks = [b[k] for b in null["bands"] for k in ("keep", "remove")]
    blocks += [c[k] for c in null["tiles"]["cells"] for k in ("keep", "remove")]
    blocks += [d[k] for d in null["deletion"] for k in ("top", "random")]
    widen = 2.99 / 1.96
    for block in blocks:
        m = block["macro"]
        half = max(m["estimate"] - m["ci_low"], m["ci_high"] - m["estimate"])
        assert abs(m["estimate"] - 0.5) <= widen * half, m


def test_document_shape(small_tile, tmp_path):
    doc = small_tile
    assert doc["schema"] == EXPLAIN_SCHEMA and doc["modality"] == "imaging"
    assert set(doc) == {"schema", "modality", "run", "config", "original", "bands", "tiles",
                        "attribution", "deletion", "intensity", "acquisition", "extras"}
    assert set(doc["original"]) == AUC_KEYS
    assert set(doc["original"]["macro"]) == {"estimate", "ci_low", "ci_high"}
    assert [(b["inner"], b["outer"]) for b in doc["bands"]] == [(0, 1), (1, 8), (8, 22), (22, 46)]
    assert all(set(b) == {"inner", "outer", "keep", "remove"} for b in doc["bands"])
    assert len(doc["tiles"]["cells"]) == 16
    assert doc["acquisition"] is None  # the synthetic PNG manifest carries no acquisition tag
    assert set(doc["intensity"]) == AUC_KEYS
    assert doc["extras"]["frame"] == "neutral"
    assert doc["config"]["band_edges"] == [0, 1, 8, 22, 46]
    json.dumps(doc, allow_nan=False)


def test_bad_run_and_options(tmp_path):
    with pytest.raises(ConfigError, match="no model.pt"):
        run_explain(ExplainConfig(run=tmp_path, manifest=tmp_path / "m.parquet", out=tmp_path / "o"))
    with pytest.raises(ConfigError, match="unknown attribution method"):
        ExplainConfig(run=tmp_path, manifest=tmp_path, out=tmp_path, methods=("deeplift",))
    with pytest.raises(ConfigError, match="mode must be"):
        ExplainConfig(run=tmp_path, manifest=tmp_path, out=tmp_path, mode="fast")  # type: ignore[arg-type]
