"""Synthetic clinical notes with explicit race mentions, hard negatives and planted proxies.

A control with known answers, one note per sample of
:func:`racelens.shared.synthetic.synthetic_patients` (HPI, past history, social history, exam,
labs, plan; about 1–1.5 kB, wording varied from a seeded generator):

- **Explicit mentions** in the forms notes use ("54 yo AA M", "pt is a 67 y/o W/M", "61 yo W F",
  "A/M" but never the ambiguous bare "AM"/"AF"/"HF",
  "African-American female", "Race: Black", "Hispanic"), in a note with probability
  ``mention_rate[group]`` (group-dependent by default, as in real notes: Black patients' race is
  written more often). Their character offsets are returned as gold spans, so a redaction
  evaluation can score against them. Note that a redactor's placeholder keeps the *rate* visible:
  for a clean negative control pass one ``mention_rate`` for all groups.
- **Hard negatives** that are not race: "white count", "WBC", "black stools", "white matter",
  "Dr. White", drawn independently of race, never in the gold spans.
- **Proxies**: language and interpreter ("Cantonese interpreter", "Spanish-speaking"), national
  origin ("born in Haiti") and group-associated conditions ("sickle cell trait"); a note carries
  one of its group's proxies with probability ``proxies`` (``0`` is the negative control). Every
  other clinical detail is drawn independently of race (only age and sex come from the patient),
  so after explicit redaction and proxy stripping no race signal is left by design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from racelens.errors import ConfigError, DataError

__all__ = ["DEFAULT_MENTION_RATES", "PROXIES", "SECTION_PROXIES", "HARD_NEGATIVES", "SyntheticNotes", "synthetic_notes"]

DEFAULT_MENTION_RATES: dict[str, float] = {"Black": 0.7, "Asian": 0.6, "White": 0.45, "Hispanic": 0.6}

# group -> terms for (adjective form, demographic slot form, "Race:" line value, compact letter)
_TERMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
    "Black": (("African-American", "African American", "Black"), ("AA", "black"), ("Black",
              "Black or African American"), "B"),
    "White": (("Caucasian", "White", "white"), ("Caucasian", "W"), ("White", "Caucasian"), "W"),
    "Asian": (("Asian", "Asian-American", "Asian American"), ("Asian",), ("Asian",), "A"),
    "Hispanic": (("Hispanic", "Latino"), ("Hispanic",), ("Hispanic", "Hispanic or Latino"), "H"),
}

# compact letters written only with a slash ("A/M", never "AM")
_SLASH_ONLY = ("A", "H")

PROXIES: dict[str, tuple[str, ...]] = {
    "Asian": ("A Cantonese interpreter was used for the interview.", "Mandarin-speaking only.",
              "Vietnamese interpreter present.", "Born in China, moved here in 2009.",
              "Known chronic hepatitis B carrier.", "History of alpha thalassemia trait."),
    "Black": ("Haitian Creole interpreter used.", "Born in Haiti.", "Originally from Cape Verde.",
              "Known sickle cell trait.", "History of sarcoidosis.", "History of keloids."),
    "White": ("Born in Ireland.", "Russian-speaking, daughter translates.",
              "Originally from Poland.", "Family history of hemochromatosis.",
              "Known cystic fibrosis carrier.", "Norwegian descent per family."),
    "Hispanic": ("Spanish-speaking only; interpreter used.", "Born in the Dominican Republic.",
                 "Originally from Puerto Rico.", "Spanish interpreter present."),
}

# a proxy found in one section only (FAMILY HISTORY, written only when section proxies are asked
# for): words that no other part of a note uses, so the section alone carries the signal
SECTION_PROXIES: dict[str, str] = {
    "Asian": "Grandmother lived to 101 in good health.", "Black": "Uncle with gout and vertigo.",
    "White": "Brother with psoriasis since youth.", "Hispanic": "Aunt with glaucoma, bilateral.",
}
_FAMILY_FILLER = ("Noncontributory.", "No family history of early CAD.",
                  "Mother with hypertension.", "Father deceased, unknown causes.")

HARD_NEGATIVES: tuple[str, ...] = (
    "White count 11.2, up from 9.8.", "WBC 7.4 without left shift.",
    "Denies black stools or hematochezia.", "Reports black tarry stools x2 days.",
    "Head CT: chronic small vessel white matter changes.", "Discussed with Dr. White (cardiology).",
    "Per Mr. White, the patient's neighbor, she was found on the floor.",
    "Elevated white blood cell count on admission.", "Whiteboard updated with plan of care.",
    "No blackouts or presyncope.",
)

_COMPLAINTS = ("shortness of breath", "chest pain", "productive cough", "fever and chills",
               "dyspnea on exertion", "bilateral leg swelling", "pleuritic chest pain",
               "generalized weakness")
_HISTORY = ("hypertension", "type 2 diabetes", "COPD", "CHF with reduced EF", "CKD stage 3",
            "atrial fibrillation on apixaban", "hyperlipidemia", "asthma", "GERD", "OSA on CPAP")
_SOCIAL = ("Lives with spouse.", "Lives alone in an apartment.", "Retired teacher.",
           "Works in construction.", "Former smoker, 20 pack-years.", "Never smoker.",
           "Drinks 2-3 beers per week.", "No illicit drug use.", "Lives with daughter.")
_EXAM = ("Lungs with bibasilar crackles.", "Lungs clear to auscultation bilaterally.",
         "Decreased breath sounds at the right base.", "RRR, no murmurs.",
         "1+ pitting edema to the shins.", "Abdomen soft, nontender.", "JVP not elevated.")
_MEDS = ("lisinopril 10 mg daily", "metoprolol succinate 50 mg daily", "atorvastatin 40 mg qhs",
         "metformin 500 mg BID", "furosemide 40 mg daily", "albuterol inhaler prn",
         "tiotropium 18 mcg daily", "apixaban 5 mg BID", "omeprazole 20 mg daily",
         "aspirin 81 mg daily")
_ROS = ("Positive for orthopnea and PND.", "Negative for abdominal pain, nausea, dysuria.",
        "Positive for fatigue; negative for weight loss.", "Negative for headache or vision change.",
        "Positive for cough with yellow sputum.")
_PLAN = ("Continue diuresis with IV furosemide, daily weights.", "Start ceftriaxone and "
         "azithromycin for CAP.", "Repeat chest x-ray in the morning.", "Trend troponins, "
         "telemetry.", "Incentive spirometry, ambulate as tolerated.", "Follow up with PCP in "
         "1-2 weeks.", "Nebulizers q4h prn, taper steroids.")


@dataclass(frozen=True)
class SyntheticNotes:
    """Notes and the gold spans of their explicit race mentions.

    Attributes
    ----------
    notes
        ``note_id, subject_id, sample_id, text, race_raw, race`` (one row per input row).
    spans
        ``note_id, start, end, category, text``: each explicit mention, ``category`` its group.
    """

    notes: pd.DataFrame
    spans: pd.DataFrame


class _Builder:
    """Concatenates text pieces and records the offsets of the marked ones."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[tuple[int, int, str, str]] = []

    def add(self, text: str, category: str | None = None) -> None:
        if category is not None:
            self.spans.append((self.length, self.length + len(text), category, text))
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _choice(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _some(rng: np.random.Generator, options: tuple[str, ...], k: int, sep: str) -> str:
    return sep.join(options[j] for j in rng.choice(len(options), size=k, replace=False))


def _opening(b: _Builder, rng: np.random.Generator, age: int, female: bool, group: str | None) -> None:
    sex_letter, noun = ("F", "female") if female else ("M", "male")
    form = int(rng.integers(4))
    if group is None:
        b.add(_choice(rng, (f"{age} yo {sex_letter} ", f"Pt is a {age} y/o {noun} ",
                            f"{age} year old {noun} ", f"{age}-year-old {'woman' if female else 'man'} ")))
    elif form == 0:
        b.add(f"{age} yo ")
        b.add(_choice(rng, _TERMS[group][1]), group)
        b.add(f" {sex_letter} ")
    elif form == 1:
        b.add(f"pt is a {age} y/o ")
        letter = _TERMS[group][3]
        # bare "AF"/"AM"/"HF" read as atrial fibrillation, morning, heart failure: slash only
        slash = rng.random() < 0.6 or letter in _SLASH_ONLY
        b.add(letter + ("/" if slash else "") + sex_letter, group)
        b.add(" ")
    else:
        b.add(_choice(rng, (f"{age} year old ", f"{age}-year-old ", f"Pt is a {age} yo ")))
        b.add(_choice(rng, _TERMS[group][0]), group)
        b.add(f" {noun} " if form == 2 else f" {'woman' if female else 'man'} ")
    b.add(f"with {_choice(rng, _HISTORY)} and {_choice(rng, _HISTORY)} who presents with "
          f"{int(rng.integers(2, 8))} days of {_choice(rng, _COMPLAINTS)}. ")


def _note(rng: np.random.Generator, age: int, female: bool, group: str, rate: float,
          proxies: float, proxy_phrases: Mapping[str, tuple[str, ...]] = PROXIES,
          section_proxies: float = 0.0) -> _Builder:
    b = _Builder()
    known = group in _TERMS
    mention = known and rng.random() < rate
    he, his = ("She", "her") if female else ("He", "his")
    b.add("HISTORY OF PRESENT ILLNESS:\n")
    _opening(b, rng, age, female, group if mention and rng.random() < 0.75 else None)
    b.add(f"{he} reports {_choice(rng, _COMPLAINTS)} worse at night and {_choice(rng, _COMPLAINTS)}. "
          f"{_choice(rng, HARD_NEGATIVES)} In the ED vitals were T {rng.normal(37.4, 0.6):.1f} "
          f"HR {int(rng.integers(70, 120))} BP {int(rng.integers(100, 160))}/"
          f"{int(rng.integers(55, 95))} RR {int(rng.integers(14, 28))} SpO2 {int(rng.integers(88, 99))}% "
          f"on {_choice(rng, ('RA', '2L NC', '4L NC'))}.\n\n")
    b.add(f"REVIEW OF SYSTEMS:\n{_some(rng, _ROS, 2, ' ')} All other systems reviewed and negative."
          f"\n\nPAST MEDICAL HISTORY:\n- {_some(rng, _HISTORY, 3, chr(10) + '- ')}\n\n"
          f"MEDICATIONS:\n{_some(rng, _MEDS, 4, ', ')}.\n\n"
          f"SOCIAL HISTORY:\n{_some(rng, _SOCIAL, 2, ' ')} ")
    if known and rng.random() < proxies and proxy_phrases.get(group):
        b.add(_choice(rng, tuple(proxy_phrases[group])) + " ")
    if mention and (not b.spans or rng.random() < 0.35):
        line = int(rng.integers(3))
        if line == 0:
            b.add("\nRace: ")
            b.add(_choice(rng, _TERMS[group][2]), group)
            b.add(". ")
        elif line == 1:
            b.add(f"{he} identifies as ")
            b.add(_choice(rng, _TERMS[group][0]), group)
            b.add(". ")
        else:
            b.add(f"{he} is a ")
            b.add(_choice(rng, _TERMS[group][0]), group)
            b.add(f" {'woman' if female else 'man'} accompanied by {his} family. ")
    if section_proxies > 0:  # no draw otherwise: the notes of every other call stay the same
        b.add(f"\n\nFAMILY HISTORY:\n{_choice(rng, _FAMILY_FILLER)} ")
        if known and rng.random() < section_proxies:
            b.add(SECTION_PROXIES[group] + " ")
    b.add(f"\n\nPHYSICAL EXAM:\nGen: {_choice(rng, ('NAD', 'mildly uncomfortable', 'tachypneic'))}. "
          f"{_some(rng, _EXAM, 3, ' ')}\n\n"
          f"LABS:\nWBC {rng.normal(9.5, 3):.1f} Hgb {rng.normal(12, 1.5):.1f} Plt {int(rng.integers(150, 400))} "
          f"Na {int(rng.integers(131, 145))} K {rng.normal(4.2, 0.4):.1f} Cr {rng.lognormal(0, 0.4):.2f} "
          f"BNP {int(rng.integers(40, 2500))}. {_choice(rng, HARD_NEGATIVES)}\n\n"
          f"ASSESSMENT AND PLAN:\n{age} yo with {_choice(rng, _COMPLAINTS)}, likely "
          f"{_choice(rng, ('CHF exacerbation', 'community-acquired pneumonia', 'COPD flare', 'viral bronchitis'))}.\n"
          f"- {_some(rng, _PLAN, 3, chr(10) + '- ')}\n"
          f"Code status: {_choice(rng, ('Full code', 'DNR/DNI', 'Full (presumed)'))}.\n")
    return b


def synthetic_notes(
    patients: pd.DataFrame,
    *,
    proxies: float = 0.5,
    mention_rate: float | Mapping[str, float] | None = None,
    seed: int = 0,
    race_col: Literal["race"] = "race",
    proxy_phrases: Mapping[str, Sequence[str]] | None = None,
    section_proxies: float = 0.0,
) -> SyntheticNotes:
    """Write one synthetic note per row of ``patients``.

    Parameters
    ----------
    patients
        Table from :func:`racelens.shared.synthetic.synthetic_patients` (needs ``sample_id``,
        ``patient_id``, ``race``, ``age``, ``sex``; ``race_raw`` is carried over when present).
    proxies
        Probability in [0, 1] that a note carries one of its group's proxies; 0 plants none.
    mention_rate
        Probability of an explicit race mention, per group (mapping) or for all (float); default
        :data:`DEFAULT_MENTION_RATES`. Groups without terms (Other, Unknown) are never mentioned.
    seed
        Seed; the same inputs give the same notes and spans.
    proxy_phrases
        The proxy sentences per group (default :data:`PROXIES`), e.g. only conditions, to plant
        proxies of one kind.
    section_proxies
        Probability that a note's FAMILY HISTORY section (written only when this is above 0)
        carries its group's :data:`SECTION_PROXIES` sentence: a proxy of one section only.

    Returns
    -------
    SyntheticNotes
    """
    if not 0.0 <= proxies <= 1.0 or not 0.0 <= section_proxies <= 1.0:
        raise ConfigError(f"proxies and section_proxies must be probabilities in [0, 1], got "
                          f"{proxies} and {section_proxies}")
    phrases = {g: tuple(v) for g, v in (PROXIES if proxy_phrases is None
                                        else proxy_phrases).items()}
    need = ["sample_id", "patient_id", race_col, "age", "sex"]
    missing = [c for c in need if c not in patients]
    if missing:
        raise DataError(f"patients table lacks {missing}; build it with synthetic_patients()")
    if mention_rate is None:
        rates: Mapping[str, float] = DEFAULT_MENTION_RATES
    elif isinstance(mention_rate, Mapping):
        rates = mention_rate
    else:
        rates = dict.fromkeys(_TERMS, float(mention_rate))
    if any(not 0.0 <= r <= 1.0 for r in rates.values()):
        raise ConfigError(f"mention rates must be in [0, 1], got {dict(rates)}")
    rng = np.random.default_rng(seed)
    rows, spans = [], []
    for i, rec in enumerate(patients.itertuples(index=False)):
        row = rec._asdict()
        group = str(row[race_col])
        b = _note(rng, int(row["age"]), row["sex"] == "F", group, rates.get(group, 0.0), proxies,
                  phrases, section_proxies)
        note_id = f"N{i:07d}"
        rows.append({"note_id": note_id, "subject_id": row["patient_id"],
                     "sample_id": row["sample_id"], "text": b.text(),
                     "race_raw": row.get("race_raw", group), "race": group})
        spans.extend({"note_id": note_id, "start": s, "end": e, "category": c, "text": t}
                     for s, e, c, t in b.spans)
    span_df = pd.DataFrame(spans, columns=["note_id", "start", "end", "category", "text"])
    return SyntheticNotes(notes=pd.DataFrame(rows), spans=span_df)
