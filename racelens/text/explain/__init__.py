"""``racelens text explain``: which words, kinds of words and sections carry race after redaction."""

from racelens.text.explain.run import EXPLAIN_FILE, EXPLAIN_SCHEMA, ExplainConfig, run_text_explain

__all__ = ["ExplainConfig", "run_text_explain", "EXPLAIN_SCHEMA", "EXPLAIN_FILE"]
