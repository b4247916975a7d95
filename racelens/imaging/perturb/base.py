"""The base of racelens's image perturbations: seeds, the :class:`Perturbation` contract, compose.

See :mod:`racelens.imaging.perturb.transforms` for the perturbations themselves and ``make_perturbation``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from racelens.errors import ConfigError, DataError
from racelens.imaging.perturb.axes import place as _place
from racelens.shared.results import Condition, Strength
from racelens.shared.seeds import derive_seed

__all__ = ["derive_seed", "Perturbation", "Identity", "Compose"]


class Perturbation:
    """Base class: parameters in ``__init__``, the transform in :meth:`apply`.

    Subclasses set ``name`` (the condition name) and ``strength_param`` (the parameter reported
    on the x axis of AUC-against-strength plots). The perturbation owns its strength axis
    (direction and panel title in :mod:`racelens.imaging.perturb.axes`); :meth:`place` puts a
    condition of it on that axis, and each condition's result carries it.
    """

    name: ClassVar[str] = ""
    strength_param: ClassVar[str | None] = None
    randomized: ClassVar[bool] = False
    #: where per-sample generators live: ``None`` for the images' device, or ``"cpu"``
    generator_device: ClassVar[str | None] = None

    def __init__(self, *, seed: int = 0) -> None:
        self.set_random_state(seed)

    def set_random_state(self, seed: int) -> Perturbation:
        """Reset the object's own generator (the global RNGs are never touched)."""
        self.seed = int(seed)
        self._generator = torch.Generator().manual_seed(self.seed)
        return self

    @property
    def params(self) -> dict[str, Any]:
        """The named parameters, as in the condition."""
        sig = inspect.signature(type(self).__init__).parameters
        return {k: getattr(self, k) for k, p in sig.items() if k not in ("self", "seed")
                and (p.default is inspect.Parameter.empty or getattr(self, k) != p.default)}

    @property
    def condition(self) -> Condition:
        return Condition(self.name, self.params)

    @property
    def strength(self) -> float:
        """A number for the report's x axis (e.g. the radius); 0 for parameterless ones."""
        return float(self.params[self.strength_param]) if self.strength_param else 0.0

    @classmethod
    def place(cls, condition: Condition) -> Strength | None:
        """Where ``condition`` (one of this perturbation's) sits on its axis, mild to strong."""
        return _place(condition)

    @property
    def strength_point(self) -> Strength | None:
        """This perturbation's place on its axis (``None`` for the original images)."""
        return self.place(self.condition)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    def __call__(self, images: torch.Tensor, *, sample_seeds: Sequence[int] | None = None
                 ) -> torch.Tensor:
        """Perturb a batch ``(B, C, H, W)``; ``sample_seeds`` (one int per sample) fixes draws."""
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
            raise DataError("perturbations take a float tensor of shape (B, C, H, W); got "
                            f"{type(images).__name__} {tuple(getattr(images, 'shape', ()))}")
        if sample_seeds is not None and len(sample_seeds) != images.shape[0]:
            raise ConfigError(f"sample_seeds has {len(sample_seeds)} entries for a batch of "
                              f"{images.shape[0]}")
        out = self.apply(images, self._sample_generators(images.shape[0], sample_seeds, images.device))
        return out.to(device=images.device, dtype=images.dtype)

    def _sample_generators(self, n: int, sample_seeds: Sequence[int] | None,
                           device: torch.device | None = None
                           ) -> list[torch.Generator] | None:
        if not self.randomized:
            return None
        if sample_seeds is None:
            seeds = torch.randint(0, 2**62, (n,), generator=self._generator).tolist()
        else:
            seeds = [derive_seed(self.seed, s) for s in sample_seeds]
        # one generator per sample on the images' device: draws are reproducible per device type
        # (CPU and CUDA generators are different algorithms), and no host-device copy is needed
        where = self.generator_device or device or "cpu"
        return [torch.Generator(device=where).manual_seed(s) for s in seeds]

    def apply(self, images: torch.Tensor, generators: list[torch.Generator] | None) -> torch.Tensor:
        raise NotImplementedError


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


class Identity(Perturbation):
    """The ``original`` condition: images unchanged."""

    name = "original"

    @classmethod
    def place(cls, condition: Condition) -> Strength | None:
        return None  # the starting point of every image panel, on none of them

    def apply(self, images, generators):
        return images


def _work(x: torch.Tensor) -> torch.Tensor:
    """Half precision up to float32 for the kernels; float32/float64 kept (cast back later)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


class Compose(Perturbation):
    """Apply perturbations in order; child ``i`` gets the seed ``derive_seed(seed, i)``."""

    name = "compose"

    def __init__(self, transforms: Sequence[Perturbation], *, seed: int = 0) -> None:
        self.transforms = list(transforms)
        super().__init__(seed=seed)

    @property
    def randomized(self) -> bool:  # type: ignore[override]
        return any(t.randomized for t in self.transforms)

    def set_random_state(self, seed: int) -> Compose:
        super().set_random_state(seed)
        for i, t in enumerate(self.transforms):
            t.set_random_state(derive_seed(self.seed, i))
        return self

    @property
    def condition(self) -> Condition:
        return Condition("+".join(t.name for t in self.transforms),
                         {f"{t.name}.{k}": v for t in self.transforms for k, v in t.params.items()})

    @property
    def strength(self) -> float:
        return self.transforms[-1].strength if self.transforms else 0.0

    def __call__(self, images, *, sample_seeds=None):
        for i, t in enumerate(self.transforms):
            seeds = None if sample_seeds is None else [derive_seed(s, i) for s in sample_seeds]
            images = t(images, sample_seeds=seeds)
        return images
