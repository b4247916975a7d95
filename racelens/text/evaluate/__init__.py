"""The redactor scored on annotated corpora (generic JSONL, BRAT standoff, C-REACT).

>>> from racelens.text.evaluate import evaluate_redactor, read_gold  # doctest: +SKIP
>>> evaluation = evaluate_redactor(read_gold("gold.jsonl", "jsonl"), level="explicit")  # doctest: +SKIP
"""

from racelens.text.evaluate.gold import FORMATS, GoldCorpus, GoldSample, GoldSpan, read_gold
from racelens.text.evaluate.score import EVALUATION_SCHEMA, Evaluation, Miss, evaluate_redactor
from racelens.text.evaluate.view import EVALUATION_FILE, MISSES_FILE, write_evaluation

__all__ = ["FORMATS", "GoldCorpus", "GoldSample", "GoldSpan", "read_gold", "EVALUATION_SCHEMA",
           "Evaluation", "Miss", "evaluate_redactor", "EVALUATION_FILE", "MISSES_FILE",
           "write_evaluation"]
