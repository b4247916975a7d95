"""Commands under ``torchrun``: the distributed one runs on every rank, the others on rank 0 only.

A job script may launch the whole pipeline with ``torchrun --nproc_per_node=N -m racelens CMD``.
Two commands run on every rank (marked :func:`distributed_command`): ``imaging audit`` joins a
process group (DDP), ``imaging shortcut`` spreads its sweep's models over the ranks without one
(see :mod:`racelens.imaging.shortcut.run`). Every other command is wrapped by
:func:`rank_zero_command` when :mod:`racelens.cli.main` registers it:

- rank 0 runs the command as one ordinary process: ``WORLD_SIZE``/``RANK`` read 1/0 while it
  runs, so a library call that would otherwise join a process group (the demo's imaging audit)
  does not wait for ranks that are not coming;
- every other rank prints ``rank N: racelens CMD runs on rank 0 only`` to stderr and exits 0 at
  once, without starting anything.

Why ranks > 0 do not wait for rank 0: torchrun already does. Its agent returns only when every
worker has exited, so the job script's next step starts after rank 0 is done, and it fails the
job (exit 1, whatever the worker's code) and stops the other workers as soon as one exits
non-zero, so a failure of rank 0 fails the job. Waiting would need a process group or the
agent's store held open for the whole command, with a timeout no long command can promise.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer

from racelens.cli._util import note
from racelens.shared.train.launch import launch_context

__all__ = ["distributed_command", "rank_zero_command", "rank_zero_commands"]

F = TypeVar("F", bound=Callable[..., Any])

_DISTRIBUTED = "__racelens_distributed__"
_WRAPPED = "__racelens_rank_zero__"
# what torchrun announces about the launch; rank 0 sees a one-process launch while it runs
_ONE_PROCESS = {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1"}


def distributed_command(fn: F) -> F:
    """Mark a command that runs on every rank itself (it joins torchrun's process group)."""
    setattr(fn, _DISTRIBUTED, True)
    return fn


@contextlib.contextmanager
def _one_process_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in _ONE_PROCESS}
    os.environ.update(_ONE_PROCESS)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def rank_zero_command(fn: F, name: str) -> F:
    """``fn`` run on rank 0 only under a multi-process launch (unchanged on one process).

    ``name`` is the command as typed (``racelens text redact``) for the other ranks' one line.
    Distributed commands and already wrapped ones are returned as they are.
    """
    if getattr(fn, _DISTRIBUTED, False) or getattr(fn, _WRAPPED, False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = launch_context()
        if ctx.world_size <= 1:
            return fn(*args, **kwargs)
        if not ctx.is_main:
            note(f"rank {ctx.rank}: {name} runs on rank 0 only")
            return None
        with _one_process_env():
            return fn(*args, **kwargs)

    setattr(wrapper, _WRAPPED, True)
    return wrapper  # type: ignore[return-value]


def rank_zero_commands(app: typer.Typer, prefix: str) -> typer.Typer:
    """Wrap every command of ``app`` and its sub-groups in :func:`rank_zero_command`, in place."""
    from typer.main import get_command_name

    for info in app.registered_commands:
        if info.callback is not None:
            name = info.name or get_command_name(info.callback.__name__)
            info.callback = rank_zero_command(info.callback, f"{prefix} {name}")
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            name = group.name or sub.info.name
            rank_zero_commands(sub, f"{prefix} {name}" if isinstance(name, str) else prefix)
    return app
