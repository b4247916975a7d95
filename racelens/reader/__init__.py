"""Reader studies: a blinded page for human experts, and their answers scored like a model.

``make`` samples the items and writes the page (:func:`make_study`); ``score`` turns the
readers' answer CSVs into a ``result.json`` with ``modality="human"`` (:func:`score_study`).
"""

from racelens.reader.make import Study, StudyConfig, make_study
from racelens.reader.score import ScoreConfig, score_study

__all__ = ["StudyConfig", "Study", "make_study", "ScoreConfig", "score_study"]
