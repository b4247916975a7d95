"""Notes split at their section headings (MIMIC discharge summaries and the like).

A heading is a line that starts with a short title followed by a colon (``Chief Complaint:``,
``HISTORY OF PRESENT ILLNESS:``, ``Social History:``), the layout of MIMIC-IV-Note discharge
summaries. Known headings are mapped to one canonical name (``HPI`` and ``History of Present
Illness`` are one section); any other heading is kept as its own section under its title-cased
text, so nothing is merged into a wrong one. Text before the first heading is ``(preamble)``.

Example
-------
>>> split_sections("Chief Complaint:\\ncough\\n\\nSOCIAL HISTORY:\\nLives alone.")
[('Chief Complaint', 'cough\\n\\n'), ('Social History', 'Lives alone.')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["split_sections", "canonical_heading", "SectionParts", "MIMIC_SECTIONS", "PREAMBLE"]

PREAMBLE = "(preamble)"

#: Canonical MIMIC discharge-summary sections and the heading spellings that name them.
MIMIC_SECTIONS: dict[str, tuple[str, ...]] = {
    "Chief Complaint": ("chief complaint", "cc", "reason for admission"),
    "History of Present Illness": ("history of present illness", "hpi", "present illness"),
    "Review of Systems": ("review of systems", "ros"),
    "Past Medical History": ("past medical history", "pmh", "past medical/surgical history",
                             "past history"),
    "Past Surgical History": ("past surgical history", "psh"),
    "Social History": ("social history", "sh", "social hx"),
    "Family History": ("family history", "fh", "family hx"),
    "Allergies": ("allergies",),
    "Physical Exam": ("physical exam", "physical examination", "admission exam",
                      "discharge exam", "exam"),
    "Pertinent Results": ("pertinent results", "labs", "laboratory data", "results", "imaging"),
    "Brief Hospital Course": ("brief hospital course", "hospital course"),
    "Medications": ("medications", "medications on admission", "discharge medications",
                    "meds"),
    "Discharge Disposition": ("discharge disposition", "disposition"),
    "Discharge Diagnosis": ("discharge diagnosis", "discharge diagnoses", "diagnosis"),
    "Discharge Condition": ("discharge condition",),
    "Discharge Instructions": ("discharge instructions", "instructions"),
    "Followup Instructions": ("followup instructions", "follow-up instructions", "follow up"),
    "Assessment and Plan": ("assessment and plan", "a/p", "assessment/plan", "plan",
                            "assessment"),
    "Major Surgical or Invasive Procedure": ("major surgical or invasive procedure",
                                             "procedures"),
}

_ALIASES = {alias: name for name, aliases in MIMIC_SECTIONS.items() for alias in aliases}

# a heading: at a line start, 2-60 characters of letters, spaces and / & - ( ), then a colon
_HEADING = re.compile(r"(?m)^[ \t]*([A-Za-z][A-Za-z /&()\-]{1,59}?)[ \t]*:[ \t]*(?:\n|(?=\S))")


def canonical_heading(title: str) -> str:
    """The canonical section name of a heading (its title-cased text when unknown)."""
    key = " ".join(title.lower().split())
    if key in _ALIASES:
        return _ALIASES[key]
    return " ".join(w.capitalize() for w in key.split())


def _is_heading(title: str) -> bool:
    # "Race: White", "Code status: Full" and other field lines are values, not sections: a
    # heading is a known section name, or an upper-case title of at least two words
    key = " ".join(title.lower().split())
    return key in _ALIASES or (title.isupper() and len(title.split()) >= 2)


def split_sections(text: str) -> list[tuple[str, str]]:
    """The ``(section name, body)`` pairs of a note, in order (bodies without their heading).

    A section named twice in a note (two exam headings) keeps both bodies as two pairs.
    """
    if not isinstance(text, str) or not text:
        return []
    cuts = [(m.start(), m.end(), canonical_heading(m.group(1)))
            for m in _HEADING.finditer(text) if _is_heading(m.group(1))]
    out: list[tuple[str, str]] = []
    first = cuts[0][0] if cuts else len(text)
    if text[:first].strip():
        out.append((PREAMBLE, text[:first]))
    for k, (_, body_start, name) in enumerate(cuts):
        end = cuts[k + 1][0] if k + 1 < len(cuts) else len(text)
        out.append((name, text[body_start:end]))
    return out


class SectionParts:
    """Each note section's bodies, gathered part by part as the notes are redacted: per section
    the notes that have it (in order) and, written away, their bodies joined per note."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.rows: dict[str, list[int]] = {}
        self.writers: dict[str, Any] = {}
        self.n = 0

    def add(self, redacted: Sequence[str]) -> None:
        per: dict[str, dict[int, list[str]]] = {}
        for i, t in enumerate(redacted, start=self.n):
            for name, body in split_sections(t):
                per.setdefault(name, {}).setdefault(i, []).append(body)
        for name, bodies in per.items():
            if name not in self.writers:
                self.writers[name], self.rows[name] = self.run.writer(), []
            rows = sorted(bodies)
            self.rows[name].extend(rows)
            self.writers[name].extend([" ".join(bodies[i]) for i in rows])
        self.n += len(redacted)

    def submit(self, common: Any, cfg: Any) -> list[dict[str, Any]]:
        """Submit a fit per section (``cfg``: the ``ExplainConfig``, its ``min_section_notes``
        and ``max_sections``); returns the sections' rows of ``explain.json``."""
        from racelens.shared.results import Condition
        from racelens.text.explain.stages import fit_section

        ranked = sorted(self.rows.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        out = []
        for rank, (name, rows) in enumerate(ranked):
            row: dict[str, Any] = {"name": name, "n_notes": len(rows), "auc": None}
            if len(rows) >= cfg.min_section_notes and rank < cfg.max_sections:
                self.run.submit(f"section {name}", fit_section, common,
                                self.writers[name].ref(),
                                Condition("section", {"section": name}),
                                np.asarray(rows, dtype=int))
                row["job"] = f"section {name}"
            out.append(row)
        self.writers.clear()
        return out
