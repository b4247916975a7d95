"""racelens: can a model still tell a patient's self-reported race after race is stripped out?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("racelens")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
