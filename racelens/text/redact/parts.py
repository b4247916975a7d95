"""The hidden folder of finished chunks that makes a streaming redaction resumable.

:func:`racelens.text.redact.stream.redact_file` writes each chunk as ``part-NNNNNN.parquet``
(with ``.json`` counts and ``.spans.jsonl`` span lines) in ``.<output name>.parts/`` next to the
output; every file is renamed into place when complete, the parquet file last, so a part whose
parquet file exists is finished (parts are parquet whatever the output's format). ``manifest.json`` records the input file (path, size, mtime) and
the options; a resume with anything different is refused. At the end the parts are concatenated
one at a time (memory bounded by one chunk) into temporary files renamed onto the outputs, and the
folder is removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from racelens.errors import ConfigError
from racelens.shared.tables import atomic_path, atomic_write_text, table_writer
from racelens.text.redact.redactor import RaceRedactor

__all__ = ["Parts", "manifest_for"]

logger = logging.getLogger(__name__)


def manifest_for(input: Any, redactor: RaceRedactor, **options: Any) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one: the input file and the options."""
    st = Path(input).stat()
    lexicon = redactor.lexicon
    return {"format": "racelens.redact-parts/1", "input": str(Path(input).resolve()),
            "size": st.st_size, "mtime_ns": st.st_mtime_ns, "level": redactor.level,
            "replacement": redactor.replacement,
            "lexicon": lexicon if lexicon is None or isinstance(lexicon, str) else repr(lexicon),
            "user_terms": hashlib.sha256(repr((redactor.extra_terms, redactor.safe_terms))
                                         .encode()).hexdigest()[:16],
            **options}


class Parts:
    """The hidden folder of finished chunks of one redaction: ``part-NNNNNN.{parquet,json,spans}``.

    A part is finished when its parquet file exists: its span lines and counts are renamed into
    place before it.
    """

    def __init__(self, output: Path, manifest: dict[str, Any], resume: bool) -> None:
        self.dir = output.parent / f".{output.name}.parts"
        self.manifest = manifest
        old = self._recorded()
        if resume and old is not None:
            changed = sorted(k for k in manifest.keys() | old.keys() if manifest.get(k) != old.get(k))
            if changed:
                raise ConfigError(
                    f"cannot resume into {output}: {', '.join(changed)} differ from the interrupted "
                    "run's (the input file changed or other options were given); run again "
                    "without --resume to start over")
            logger.info("resuming from %s", self.dir.name)
            return
        if self.dir.exists():
            logger.info("discarding the parts of an earlier run (%s)", self.dir.name)
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        atomic_write_text(self.dir / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True))

    def _recorded(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _path(self, index: int, suffix: str) -> Path:
        return self.dir / f"part-{index:06d}{suffix}"

    def spans_path(self, index: int) -> Path:
        """Where part ``index``'s span lines go (written first, through an atomic rename)."""
        return self._path(index, ".spans.jsonl")

    def done(self, index: int, rows: int) -> Counter[str] | None:
        """The counts of finished part ``index``, or None when it has to be redacted."""
        if not self._path(index, ".parquet").is_file():
            return None
        counts = json.loads(self._path(index, ".json").read_text(encoding="utf-8"))
        if counts.pop("rows") != rows:
            raise ConfigError(f"{self.dir}: part {index} holds another number of rows than the "
                              "input's chunk; run again without --resume")
        return Counter(counts)

    def commit(self, index: int, table: pa.Table, counts: dict[str, int]) -> None:
        """Rename the part's counts into place, then its parquet file (which marks it finished).

        Its span lines, if any, are already in place (:meth:`spans_path`).
        """
        atomic_write_text(self._path(index, ".json"), json.dumps(counts))
        with atomic_path(self._path(index, ".parquet")) as tmp:
            pq.write_table(table, tmp)

    def finish(self, n_parts: int, output: Path, spans_out: Any, text_col: str) -> None:
        """Concatenate the parts (one in memory at a time) into the outputs; remove the folder.

        The output is written in the format of its suffix; with no rows at all it is still a
        valid table (of ``text_col``).
        """
        with ExitStack() as stack:  # on leaving: spans renamed, then the output (LIFO)
            writer = stack.enter_context(table_writer(output, empty_columns=[text_col]))
            for i in range(n_parts):
                writer.write(pq.read_table(self._path(i, ".parquet")))
            if spans_out is not None:
                tmp_spans = stack.enter_context(atomic_path(spans_out))
                with open(tmp_spans, "wb") as out_fh:
                    for i in range(n_parts):
                        with open(self.spans_path(i), "rb") as part_fh:
                            shutil.copyfileobj(part_fh, out_fh)
        shutil.rmtree(self.dir, ignore_errors=True)

    def discard(self) -> None:
        """Remove the folder (the input or options are bad: a resume would fail the same way)."""
        shutil.rmtree(self.dir, ignore_errors=True)

