"""Where this process sits in a ``torchrun`` launch, read from the environment (no torch).

It exists apart from :mod:`racelens.shared.train.distributed` because the CLI asks every command
"am I rank 0?" before it runs: answering must not import torch (3.5 s and ~450 MiB per
command, found when measuring ``text check``'s memory). :mod:`racelens.shared.train.distributed`
re-exports both names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from racelens.errors import ConfigError

__all__ = ["DistContext", "launch_context", "env_int"]


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly one-process) job.

    Attributes
    ----------
    rank, world_size, local_rank
        Global rank, number of processes and rank on this node (the GPU index).
    backend
        ``nccl`` or ``gloo`` when a process group is running, else ``None``.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes outputs, checkpoints, logs and progress bars."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """More than one process, joined by a running process group."""
        return self.world_size > 1 and self.backend is not None


def env_int(name: str, default: int) -> int:
    """An integer launch variable (``RANK``, ``WORLD_SIZE``, ...), or ``default`` when unset."""
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer; "
                          "launch with torchrun, which sets it") from exc


def launch_context() -> DistContext:
    """The ranks ``torchrun`` announced in the environment, without starting anything."""
    return DistContext(rank=env_int("RANK", 0), world_size=env_int("WORLD_SIZE", 1),
                       local_rank=env_int("LOCAL_RANK", 0))
