"""Checks of a redaction: residual mentions, span scores, mention rates, and the one leakage model.

>>> from racelens.text.check import check_redaction, fit_leakage, rank_proxies  # doctest: +SKIP
"""

from racelens.text.check.leakage import (
    Leakage,
    LeakageFit,
    Proxy,
    fit_features,
    fit_leakage,
    leakage_probe,
    leakage_split,
    rank_proxies,
)
from racelens.text.check.report import RedactionReport, check_redaction
from racelens.text.check.stream import check_file

__all__ = ["check_redaction", "check_file", "RedactionReport", "Leakage", "LeakageFit", "Proxy",
           "fit_leakage", "fit_features", "leakage_split", "leakage_probe", "rank_proxies"]
