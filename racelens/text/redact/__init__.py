"""Race and ethnicity redaction of clinical notes: :class:`RaceRedactor` and its parts.

>>> from racelens.text.redact import RaceRedactor
>>> RaceRedactor().redact("72F black w/ GERD").text
'72F [RACE] w/ GERD'
"""

from racelens.text.redact.lexicon import Lexicon, SafePhrase, Term, load_lexicon
from racelens.text.redact.redactor import RaceRedactor
from racelens.text.redact.spans import LABEL, Redaction, Span

__all__ = ["RaceRedactor", "Span", "Redaction", "LABEL", "Term", "SafePhrase", "Lexicon", "load_lexicon"]
