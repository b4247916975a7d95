"""Paired timing of two checkouts' redactors (and the trie alternation) in one process.

On the project's VM the CPU clock moves by up to 2.7x between (and within) runs, so two
separate benchmark runs cannot resolve a few per cent. This script loads the redactor of a
base checkout (e.g. ``git archive main | tar -x -C /tmp/rd_base``) and of this one into the same
process, checks that both find the same spans on the benchmark notes, and times them back to
back, the order swapped each round; it reports the median of the rounds' time ratios.

Run:  python benchmarks/bench_redact_ab.py --base /tmp/rd_base [--rounds 30] [--notes 400]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_redact import make_notes  # noqa: E402


def _load(path: Path) -> tuple[object, Callable[..., str]]:
    """A fresh import of ``racelens`` from ``path``: its redactor and its ``trie_regex``."""
    for name in [k for k in sys.modules if k == "racelens" or k.startswith("racelens.")]:
        del sys.modules[name]
    sys.path.insert(0, str(path))
    try:
        from racelens.text.redact.lexicon import trie_regex
        from racelens.text.redact.redactor import RaceRedactor
        return RaceRedactor(level="explicit"), trie_regex
    finally:
        sys.path.remove(str(path))


def paired(fns: dict[str, Callable[[], object]], base: str, rounds: int) -> dict[str, list[float]]:
    """Each round runs ``base`` and each other function back to back (order alternating);
    returns each one's time / base time per round."""
    ratios: dict[str, list[float]] = {k: [] for k in fns if k != base}
    for r in range(rounds):
        for k in ratios:
            seconds = {}
            for name in ((base, k) if r % 2 == 0 else (k, base)):
                t0 = time.perf_counter()
                fns[name]()
                seconds[name] = time.perf_counter() - t0
            ratios[k].append(seconds[k] / seconds[base])
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="a checkout to compare against")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--notes", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    notes, _ = make_notes(args.notes, seed=args.seed)
    base, trie_regex = _load(args.base)
    new, _ = _load(HERE.parent)
    terms = sorted({f for t in new.terms for f in t.forms()}, key=len, reverse=True)  # type: ignore[attr-defined]
    trie = re.compile(r"(?<!\w)(?:" + trie_regex(terms) + r")(?!\w)", re.IGNORECASE)

    def spans(r: object) -> list[list[tuple[int, int, str]]]:
        return [[(s.start, s.end, s.rule) for s in r.analyze(t)] for t in notes]  # type: ignore[attr-defined]

    if spans(base) != spans(new):
        sys.exit("the two checkouts find different spans on the benchmark notes")

    def timer(r: object) -> Callable[[], object]:
        return lambda: [[(s.start, s.end) for s in r.analyze(t)] for t in notes]  # type: ignore[attr-defined]

    def trie_fn() -> object:
        return [[m.span() for m in trie.finditer(t)] for t in notes]

    fns = {"base": timer(base), "this": timer(new), "trie": trie_fn}
    print(f"# {len(notes)} notes, {args.rounds} rounds, base {args.base}")
    for name, v in paired(fns, "base", args.rounds).items():
        v.sort()
        print(f"{name} time / base time: median {statistics.median(v):.3f} "
              f"(quartiles {v[len(v) // 4]:.3f}-{v[3 * len(v) // 4]:.3f})")
    for name, v in paired({"trie": trie_fn, "this": timer(new)}, "trie", args.rounds).items():
        v.sort()
        print(f"{name} time / trie time: median {statistics.median(v):.3f}, so racelens / trie "
              f"speed {1 / statistics.median(v):.2f}x")


if __name__ == "__main__":
    main()
