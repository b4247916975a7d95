"""Redaction, residual counts and the leakage probe on Apache Spark (needs ``racelens[spark]``).

pyspark is imported by the functions when they run, so importing this package does not need it.
"""

from racelens.text.spark.file import redact_file_spark
from racelens.text.spark.leakage import (
           hash_split,
           hashed_tfidf,
           leakage_auc_local,
           leakage_auc_spark,
)
from racelens.text.spark.session import redact_spark, residual_mentions_spark, spark_session

__all__ = ["redact_spark", "redact_file_spark", "residual_mentions_spark", "spark_session",
           "leakage_auc_spark", "leakage_auc_local", "hashed_tfidf", "hash_split"]
