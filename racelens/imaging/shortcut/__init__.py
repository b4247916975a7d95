"""Shortcut testing and mitigation for image models (``racelens imaging shortcut``)."""

from racelens.imaging.shortcut.config import MITIGATIONS, ShortcutConfig
from racelens.imaging.shortcut.run import run_shortcut

__all__ = ["MITIGATIONS", "ShortcutConfig", "run_shortcut"]
