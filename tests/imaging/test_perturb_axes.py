"""Each image perturbation owns its strength axis; the torch-free table agrees with the classes."""

from __future__ import annotations

from racelens.imaging.perturb.axes import AXES
from racelens.imaging.perturb.transforms import PERTURBATIONS, make_perturbation
from racelens.shared.results import Condition


def test_every_perturbation_has_an_axis_on_its_strength_parameter():
    named = {n for n in PERTURBATIONS if n != "original"}
    assert set(AXES) == named
    for name, axis in AXES.items():
        if axis.sign:
            assert PERTURBATIONS[name].strength_param == axis.parameter, name


def test_perturbation_places_itself():
    low = make_perturbation(Condition("lowpass", {"radius": 10})).strength_point
    assert (low.family, low.rank, low.label, low.title) == (
        "lowpass", (-10.0,), "10", "Low-pass filter (disc radius)")
    assert make_perturbation(Condition("original")).strength_point is None
    high = [make_perturbation(Condition("highpass", {"radius": r})).strength_point for r in (150, 50)]
    assert [s.label for s in sorted(high, key=lambda s: s.rank)] == ["50", "150"]
