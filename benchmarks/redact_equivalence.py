"""Differential check: this checkout's redactor against another's (e.g. main) on an adversarial corpus.

Builds tens of thousands of texts (the benchmark's synthetic notes at several seeds and sizes, the
string literals of ``tests/text/test_redact*.py`` as hard negatives and positives, random mutations
of both: case flips, spliced terms, unicode whitespace, deleted and doubled characters, the
replacement token glued to words), runs ``redact`` at both levels with ``[RACE]`` and with deletion,
and writes (or compares against) a pickle of the outputs. Run once with the reference on
``PYTHONPATH`` and ``--write``, then with this checkout and ``--check``; no note text is printed.

Run:  PYTHONPATH=/tmp/rd_base python benchmarks/redact_equivalence.py --write /tmp/ref.pkl
      PYTHONPATH=$PWD         python benchmarks/redact_equivalence.py --check /tmp/ref.pkl
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import pickle
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_redact import FILLER, NEGATIVES, POSITIVES, make_notes  # noqa: E402

UNICODE_WS = ["\u00a0", "\u2009", "\u202f", "\u3000", "\u2007", "\t", "\r", "\n", "\x0b", "\x1c"]
ODD = ["\u0130", "\u212a", "\u017f", "\u00df", "é", "ﬁ", "Σ", "ς", "_", "[RACE]", "/", "-", ".",
       ":", ";", "|", "(", ")", "'", ","]


def literals() -> list[str]:
    """String constants of the redaction tests (hard negatives, slot forms, lines ...)."""
    out: set[str] = set()
    for path in sorted((HERE.parent / "tests" / "text").glob("test_redact*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and 2 < len(node.value) < 400:
                out.add(node.value)
    return sorted(out)


def mutate(text: str, rng: random.Random, words: list[str]) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        i = rng.randrange(len(chars) + 1)
        if op < 0.2:
            chars[i:i] = list(rng.choice(words))
        elif op < 0.35:
            chars[i:i] = [rng.choice(UNICODE_WS)]
        elif op < 0.45:
            chars[i:i] = list(rng.choice(ODD))
        elif op < 0.6 and chars:
            j = min(len(chars), i + rng.randint(1, 3))
            chars[i:j] = []
        elif op < 0.75 and chars:
            k = min(i, len(chars) - 1)
            chars[k] = chars[k].swapcase()
        elif op < 0.85 and chars:
            j = min(len(chars), i + rng.randint(1, 12))
            chars[i:i] = chars[i:j]  # doubled piece
        else:
            chars = [c.upper() if rng.random() < 0.5 else c.lower() for c in chars]
    return "".join(chars)


def corpus(n_mutations: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts: list[str] = []
    for s, size in ((0, 1500), (1, 400), (2, 5000), (3, 150)):
        texts += make_notes(150 if size < 5000 else 40, seed=s, size=size)[0]
    base = literals() + FILLER + NEGATIVES + [t for t, _ in POSITIVES]
    from racelens.text.redact import RaceRedactor

    words = sorted({f for t in RaceRedactor(level="extended").terms for f in t.forms()})
    words += ["54 yo", "72F", "M/72", "Race:", "Ethnicity -", "identifies as", "Dr.", "and", "or",
              "white blood cells", "black stools", "AA", "WM", "B/F", "W F", "patient", "\n"]
    texts += base
    pool = base + [t[i:i + 300] for t in texts[:300] for i in range(0, len(t), 300)]
    for _ in range(n_mutations):
        t = mutate(rng.choice(pool), rng, words)
        if rng.random() < 0.1:
            t = t.replace(" ", rng.choice(UNICODE_WS))
        texts.append(t)
    return texts


def run(texts: list[str]) -> list[tuple]:
    from racelens.text.redact import RaceRedactor

    out = []
    for level in ("explicit", "extended"):
        for rep in ("[RACE]", ""):
            r = RaceRedactor(level=level, replacement=rep)  # type: ignore[arg-type]
            for t in texts:
                red = r.redact(t)
                out.append((red.text, [(s.start, s.end, s.label, s.category, s.rule, s.text)
                                       for s in red.spans]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mutations", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=0)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write")
    g.add_argument("--check")
    args = ap.parse_args()
    texts = corpus(args.mutations, args.seed)
    out = run(texts)
    digest = hashlib.sha256(pickle.dumps(out)).hexdigest()[:16]
    print(f"{len(texts)} texts x 4 configurations, "
          f"{sum(1 for t in texts if not t.isascii())} non-ASCII; outputs sha256 {digest}")
    if args.write:
        Path(args.write).write_bytes(pickle.dumps((texts, out)))
        return
    ref_texts, ref = pickle.loads(Path(args.check).read_bytes())
    assert ref_texts == texts, "the corpus differs from the reference run's (seed, sizes?)"
    bad = [i for i, (a, b) in enumerate(zip(out, ref, strict=True)) if a != b]
    print(f"differences: {len(bad)} of {len(out)}" + (f" (first at index {bad[0]})" if bad else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
