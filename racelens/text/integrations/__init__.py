"""racelens's redactor inside Presidio and spaCy pipelines."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["presidio", "spacy_component"]
