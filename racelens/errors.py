"""One family of exceptions and warnings for racelens.

The CLI turns every :class:`RacelensError` into one line on stderr and exit code 2
(the traceback only when ``RACELENS_DEBUG=1``). Messages say what went wrong and what to do.
"""

from __future__ import annotations

__all__ = [
    "RacelensError",
    "ConfigError",
    "DataError",
    "LabelError",
    "SplitError",
    "ImageLoadError",
    "SchemaError",
    "MissingExtraError",
    "RacelensWarning",
    "UnmatchedLabelWarning",
]


class RacelensError(Exception):
    """Base class of every error racelens raises on purpose."""


class ConfigError(RacelensError, ValueError):
    """An argument or option is invalid (unknown name, out-of-range value)."""


class DataError(RacelensError, ValueError):
    """An input table or file is malformed (missing column, empty table, bad encoding)."""


class LabelError(DataError):
    """Race labels cannot be used as given (unknown collapse, one group only)."""


class SplitError(DataError):
    """A split is impossible or leaks patients across train/val/test."""


class ImageLoadError(DataError):
    """An image file cannot be read as a single-frame greyscale image.

    Parameters
    ----------
    path
        The offending file.
    reason
        Why it failed, in a few words.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class SchemaError(DataError):
    """A ``result.json`` (or another racelens file) does not follow its schema."""


class MissingExtraError(RacelensError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the optional package {package!r}; "
            f"install it with: pip install 'racelens[{extra}]'"
        )


class RacelensWarning(UserWarning):
    """Base class of racelens's own warnings (tests turn them into errors)."""


class UnmatchedLabelWarning(RacelensWarning):
    """Raw race values that no vocabulary knows; they were mapped to ``Other``."""
