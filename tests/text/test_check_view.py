"""The redaction check as the report shows it (text/check/view.py, registered by the text plugin)."""

from __future__ import annotations

import numpy as np

from racelens.text.check.report import MentionStats, RedactionReport, mention_stats
from racelens.text.check.view import check_view


def test_redaction_check_from_text_check_schema():
    """The dict text.check writes (racelens.redaction_check/1) reads as well as the compact one."""
    labels = np.array(["Black", "White", "Black"], dtype=object)
    residual = mention_stats(["Pt is african american", "no mention here", "black female, AA"],
                             labels)
    original = MentionStats(3, 5, 3, 1666.7, {"african american": 2}, {}, {
        "Black": {"n_mentions": 4, "per_1000_notes": 2000.0, "share_notes_with_mentions": 1.0}})
    d = RedactionReport("explicit", 3, residual, original, notes=("probe skipped: /data/x.csv",)
                        ).to_dict()
    view = check_view(d)
    assert view["level"] == "explicit" and view["n_notes"] == 3
    assert view["residual"]["count"] == residual.n_mentions > 0
    assert view["residual"]["by_group"]["Black"]["count"] == residual.per_group["Black"]["n_mentions"]
    assert view["original"]["by_group"]["Black"]["share"] == 1.0
    assert view["leakage"] is None and view["spans"] is None
    assert view["notes"] == ["probe skipped: (path)"]
