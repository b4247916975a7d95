"""Benchmark: RaceRedactor vs presidio AnalyzerEngine (deny list) vs one compiled regex alternation.

All three run side by side, single process, on the same generated ~1.5 kB notes that mix
explicit race mentions (gold spans recorded while generating) with hard negatives (white blood
cells, black stools, Dr. White, AA meetings, last BM ...). The deny list and the regex use the
same literal terms as the redactor's explicit lexicon; neither has context rules. The alternation is
compiled two ways: escaped terms longest first (``\b(?:...)\b``), and as a character trie (what a
careful user writes, several times faster); the ratio to the trie is the one the target is set on.
racelens and the trie alternation are timed in alternation in the same process (``--repeat``
rounds, the order swapped each round), and the median of the rounds' ratios is reported.

Run:  .venv/bin/python benchmarks/bench_redact.py [--notes 400] [--size 1500] [--repeat 5]
          [--presidio-notes 200] [--seed 0] [--unicode-ws 0.0]
"""

from __future__ import annotations

import argparse
import platform
import re
import time
from collections.abc import Callable

import numpy as np

Spans = list[tuple[int, int]]

FILLER = [
    "Presented with two days of worsening shortness of breath and pleuritic chest pain.",
    "History of hypertension, type 2 diabetes mellitus and hyperlipidemia.",
    "Labs notable for hemoglobin 10.2, platelets 210 and creatinine 1.3.",
    "Chest radiograph showed a small left pleural effusion without consolidation.",
    "Started on IV furosemide with good urine output overnight.",
    "Home medications were reconciled and metformin was held.",
    "Vital signs stable, afebrile, saturating 95% on 2L nasal cannula.",
    "Plan to follow up with cardiology in two weeks after discharge.",
    "Echocardiogram showed an ejection fraction of 45% with mild mitral regurgitation.",
]
# (template, gold values): "{}" slots are gold mentions, filled from the lists in order.
POSITIVES = [
    ("{age} yo {} M presenting with chest pain.", [["AA"]]),
    ("{age} y/o {} with dyspnea.", [["AAF", "AAM", "WM", "WF", "BF", "B/F", "W/M"]]),
    ("Patient is a {age} year old {} female.", [["black", "white", "Hispanic", "Asian"]]),
    ("She is a pleasant {} woman.", [["African American", "African-American", "Caucasian",
                                     "Latina", "Asian American", "Native American"]]),
    ("He is a {} man who lives with his wife.", [["Black", "White", "Hispanic", "Pacific Islander"]]),
    ("Race: {}", [["White", "Black or African American", "Asian", "Other"]]),
    ("Ethnicity: {}", [["Hispanic or Latino", "Not Hispanic or Latino"]]),
    ("The patient identifies as {}.", [["black", "biracial", "Middle Eastern"]]),
    ("{} and {} patients were enrolled in the trial.", [["Black", "Hispanic"], ["white", "Asian"]]),
    ("{} female with a history of sickle cell trait.", [["non-Hispanic white", "Afr. Am."]]),
]
NEGATIVES = [
    "WBC 12.4 with white blood cells in the urine; white count trending down.",
    "MRI brain: scattered white matter hyperintensities; gray-white differentiation preserved.",
    "Reports black stools for two days, black tarry stools this morning; guaiac positive.",
    "Seen with Dr. White and Mrs. Black from social work.",
    "Attends AA meetings weekly; history of AA repair in 2015; last BM yesterday.",
    "Black box warning reviewed; white coat effect suspected; white plaque on the tongue.",
    "Black eschar on the left heel; white line of Toldt incised; white load stapler fired.",
    "The stool was black and the sputum white; patient had a blackout at home.",
]


def make_notes(n: int, seed: int = 0, size: int = 1500) -> tuple[list[str], list[Spans]]:
    """Generate ``n`` notes of about ``size`` characters with their gold mention spans."""
    rng = np.random.default_rng(seed)
    notes, golds = [], []
    for _ in range(n):
        parts: list[str] = []
        gold: Spans = []
        pos = 0
        while pos < size:
            u = rng.random()
            if u < 0.18:
                template, choices = POSITIVES[rng.integers(len(POSITIVES))]
                template = template.replace("{age}", str(rng.integers(20, 90)))
                pieces = template.split("{}")
                sentence = pieces[0]
                for options, rest in zip(choices, pieces[1:], strict=True):
                    value = options[rng.integers(len(options))]
                    gold.append((pos + len(sentence), pos + len(sentence) + len(value)))
                    sentence += value + rest
            elif u < 0.36:
                sentence = NEGATIVES[rng.integers(len(NEGATIVES))]
            else:
                sentence = FILLER[rng.integers(len(FILLER))]
            sentence += "\n" if rng.random() < 0.3 else " "
            parts.append(sentence)
            pos += len(sentence)
        notes.append("".join(parts))
        golds.append(gold)
    return notes, golds


def score(pred: list[Spans], gold: list[Spans]) -> tuple[float, float]:
    """Span precision and recall with character-overlap matching (presidio-research style)."""
    tp_p = n_p = tp_g = n_g = 0
    for p, g in zip(pred, gold, strict=True):
        n_p += len(p)
        n_g += len(g)
        tp_p += sum(any(s < ge and gs < e for gs, ge in g) for s, e in p)
        tp_g += sum(any(s < ge and gs < e for s, e in p) for gs, ge in g)
    return (tp_p / n_p if n_p else 1.0), (tp_g / n_g if n_g else 1.0)


def timed(fn: Callable[[str], Spans], notes: list[str], repeat: int) -> tuple[list[Spans], float]:
    fn(notes[0])  # warm-up
    best = float("inf")
    out: list[Spans] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = [fn(t) for t in notes]
        best = min(best, time.perf_counter() - t0)
    return out, len(notes) / best


def interleaved(a: Callable[[str], Spans], b: Callable[[str], Spans], notes: list[str],
                rounds: int) -> tuple[list[Spans], list[tuple[float, float]]]:
    """``a`` and ``b`` timed in alternation (the order swapped each round), so both see the same
    load; returns ``a``'s output and each round's (a notes/s, b notes/s)."""
    a(notes[0]), b(notes[0])  # warm-up
    out: list[Spans] = []
    rates = []
    for r in range(rounds):
        seconds = {}
        for name in ("ab" if r % 2 == 0 else "ba"):
            fn = a if name == "a" else b
            t0 = time.perf_counter()
            res = [fn(t) for t in notes]
            seconds[name] = time.perf_counter() - t0
            if name == "a":
                out = res
        rates.append((len(notes) / seconds["a"], len(notes) / seconds["b"]))
    return out, rates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=400)
    ap.add_argument("--size", type=int, default=1500, help="note length in characters (about)")
    ap.add_argument("--presidio-notes", type=int, default=200, help="0 skips presidio")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds racelens/trie")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unicode-ws", type=float, default=0.0,
                    help="fraction of spaces replaced by NBSP, thin or ideographic spaces")
    args = ap.parse_args()

    from racelens.text.redact.lexicon import trie_regex
    from racelens.text.redact.redactor import RaceRedactor

    notes, gold = make_notes(args.notes, seed=args.seed, size=args.size)
    if args.unicode_ws:  # one character for one: the gold offsets stay
        rng = np.random.default_rng(args.seed + 1)
        notes = ["".join(c if c != " " or rng.random() >= args.unicode_ws
                         else "\u00a0\u2009\u3000"[rng.integers(3)] for c in t) for t in notes]
    redactor = RaceRedactor(level="explicit")
    terms = sorted({f for t in redactor._terms for f in t.forms()}, key=len, reverse=True)

    plain = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE)
    trie = re.compile(r"(?<!\w)(?:" + trie_regex(terms) + r")(?!\w)", re.IGNORECASE)

    def ours(t: str) -> Spans:
        return [(s.start, s.end) for s in redactor.analyze(t)]

    def trie_fn(t: str) -> Spans:
        return [m.span() for m in trie.finditer(t)]

    mean_len = sum(map(len, notes)) / len(notes)
    mb = mean_len / 1e6
    print(f"# {len(notes)} notes, mean {mean_len:.0f} chars, {sum(map(len, gold))} gold spans, "
          f"{len(terms)} terms, seed {args.seed}, unicode-ws {args.unicode_ws}, "
          f"{sum(not t.isascii() for t in notes)} non-ASCII notes; python "
          f"{platform.python_version()}, {platform.machine()}")
    pred, rounds = interleaved(ours, trie_fn, notes, args.repeat)
    trie_pred = [trie_fn(t) for t in notes]
    print("\n| round | racelens notes/s | racelens MB/s | trie notes/s | racelens / trie |")
    print("|---|---:|---:|---:|---:|")
    for i, (a, b) in enumerate(rounds, 1):
        print(f"| {i} | {a:,.0f} | {a * mb:.1f} | {b:,.0f} | {a / b:.2f}x |")
    ratios = sorted(a / b for a, b in rounds)
    med_a = float(np.median([a for a, _ in rounds]))
    med_b = float(np.median([b for _, b in rounds]))
    ratio = float(np.median(ratios))
    print(f"| **median** | {med_a:,.0f} | {med_a * mb:.1f} | {med_b:,.0f} | **{ratio:.2f}x** "
          f"(runs {ratios[0]:.2f}-{ratios[-1]:.2f}) |")

    print("\n| system | notes | notes/s | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    for name, p_, rate, n in (("racelens RaceRedactor", pred, med_a, len(notes)),
                              ("trie re alternation", trie_pred, med_b, len(notes))):
        p, r = score(p_, gold)
        print(f"| {name} | {n} | {rate:,.0f} | {p:.3f} | {r:.3f} |")
    plain_pred, plain_rate = timed(lambda t: [m.span() for m in plain.finditer(t)], notes, 1)
    p, r = score(plain_pred, gold)
    print(f"| plain re alternation | {len(notes)} | {plain_rate:,.0f} | {p:.3f} | {r:.3f} |")
    if args.presidio_notes:
        from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry

        from racelens.text.integrations.presidio import blank_nlp_engine

        registry = RecognizerRegistry(supported_languages=["en"])
        registry.add_recognizer(PatternRecognizer(supported_entity="RACE_ETHNICITY", deny_list=terms,
                                                  name="race_deny_list"))
        engine = AnalyzerEngine(registry=registry, nlp_engine=blank_nlp_engine(),
                                supported_languages=["en"])
        subset = notes[: args.presidio_notes]
        pres_pred, pres_rate = timed(
            lambda t: sorted((r.start, r.end) for r in engine.analyze(t, language="en",
                                                                      entities=["RACE_ETHNICITY"])),
            subset, 1)
        p, r = score(pres_pred, gold[: len(subset)])
        print(f"| presidio deny list (blank en) | {len(subset)} | {pres_rate:,.0f} | {p:.3f} | {r:.3f} |")
        print(f"\nracelens / presidio: {med_a / pres_rate:.1f}x")
    print(f"racelens {med_a * mb:.1f} MB/s; racelens / plain regex: {med_a / plain_rate:.2f}x; "
          f"racelens / trie regex (median of {args.repeat} interleaved rounds): {ratio:.2f}x")


if __name__ == "__main__":
    main()
