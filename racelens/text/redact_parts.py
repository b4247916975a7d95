"""The hidden folder of finished chunks that makes a streaming redaction resumable.

:func:`racelens.text.redact_stream.redact_file` writes each chunk as ``part-NNNNNN.parquet``
(with ``.json`` counts and ``.spans.jsonl`` span lines) in ``.<output name>.parts/`` next to the
output; every file is renamed into place when complete, the parquet file last, so a part whose
parquet file exists is finished. ``manifest.json`` records the input file (path, size, mtime) and
the options; a resume with anything different is refused. At the end the parts are concatenated
one at a time (memory bounded by one chunk) into temporary files renamed onto the outputs, and the
folder is removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from racelens.errors import ConfigError, DataError
from racelens.text.redact import RaceRedactor

__all__ = ["Parts", "manifest_for"]

logger = logging.getLogger(__name__)


def _temp_next_to(path: Path, stack: ExitStack) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    stack.callback(lambda: Path(tmp).unlink(missing_ok=True))
    return Path(tmp)


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
        tmp = self.dir / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.dir / "manifest.json")

    def _recorded(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _path(self, index: int, suffix: str) -> Path:
        return self.dir / f"part-{index:06d}{suffix}"

    def temp(self, stack: ExitStack) -> Path:
        fd, tmp = tempfile.mkstemp(prefix=".part.", suffix=".tmp", dir=self.dir)
        os.close(fd)
        stack.callback(lambda: Path(tmp).unlink(missing_ok=True))
        return Path(tmp)

    def done(self, index: int, rows: int) -> Counter[str] | None:
        """The counts of finished part ``index``, or None when it has to be redacted."""
        if not self._path(index, ".parquet").is_file():
            return None
        counts = json.loads(self._path(index, ".json").read_text(encoding="utf-8"))
        if counts.pop("rows") != rows:
            raise ConfigError(f"{self.dir}: part {index} holds another number of rows than the "
                              "input's chunk; run again without --resume")
        return Counter(counts)

    def commit(self, stack: ExitStack, index: int, table: pa.Table, spans_tmp: Path | None,
               counts: dict[str, int]) -> None:
        """Rename the part's span lines and counts into place, then its parquet file."""
        if spans_tmp is not None:
            os.replace(spans_tmp, self._path(index, ".spans.jsonl"))
        counts_tmp = self.temp(stack)
        counts_tmp.write_text(json.dumps(counts), encoding="utf-8")
        os.replace(counts_tmp, self._path(index, ".json"))
        table_tmp = self.temp(stack)
        pq.write_table(table, table_tmp)
        os.replace(table_tmp, self._path(index, ".parquet"))

    def finish(self, n_parts: int, output: Path, spans_out: Any, text_col: str) -> None:
        """Concatenate the parts (one in memory at a time) into the outputs; remove the folder."""
        with ExitStack() as stack:
            tmp_out = _temp_next_to(output, stack)
            writer: pq.ParquetWriter | None = None
            for i in range(n_parts):
                table = pq.read_table(self._path(i, ".parquet"))
                if writer is None:
                    writer = stack.enter_context(pq.ParquetWriter(tmp_out, table.schema))
                elif not table.schema.equals(writer.schema):
                    table = _cast(table, writer.schema, i)
                writer.write_table(table)
            if writer is not None:
                writer.close()
            else:  # no rows at all: still a valid parquet file
                pq.write_table(pa.table({text_col: pa.array([], pa.string())}), tmp_out)
            if spans_out is not None:
                tmp_spans = _temp_next_to(Path(spans_out), stack)
                with open(tmp_spans, "wb") as out_fh:
                    for i in range(n_parts):
                        with open(self._path(i, ".spans.jsonl"), "rb") as part_fh:
                            shutil.copyfileobj(part_fh, out_fh)
                os.replace(tmp_spans, spans_out)
            os.replace(tmp_out, output)
        shutil.rmtree(self.dir, ignore_errors=True)

    def discard(self) -> None:
        """Remove the folder (the input or options are bad: a resume would fail the same way)."""
        shutil.rmtree(self.dir, ignore_errors=True)


def _cast(table: pa.Table, schema: pa.Schema, index: int) -> pa.Table:
    try:
        return table.cast(schema)
    except (pa.ArrowException, ValueError) as exc:
        raise DataError(f"chunk {index} has other column types than the first ({exc}); convert "
                        "the input to parquet first") from exc
