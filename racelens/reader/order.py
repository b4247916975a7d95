"""Each reader's presentation order, the same in Python as in the page's JavaScript.

The page shuffles the study's items for each reader from the study seed and the reader's name,
so two readers see different orders (order effects average out) and one reader sees the same
order after a reload. The algorithm, written out so anyone can re-derive an order:

1. ``key = f"{seed}:{reader}"`` with the name trimmed of surrounding spaces, encoded as UTF-8;
2. ``h`` = 32-bit FNV-1a of those bytes (offset basis ``0x811c9dc5``, prime ``0x01000193``);
3. a mulberry32 generator seeded with ``h`` yields uniform numbers ``u`` in [0, 1);
4. a Fisher-Yates shuffle of the items in ``items.csv`` order: for ``i = n-1 .. 1``,
   ``j = floor(u * (i + 1))``, swap items ``i`` and ``j``.

Example
-------
>>> reader_order(["a", "b", "c", "d"], 0, "Dr Ada") == reader_order(["a", "b", "c", "d"], 0, " Dr Ada ")
True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = ["fnv1a32", "mulberry32", "reader_order"]

_M = 0xFFFFFFFF


def fnv1a32(data: bytes) -> int:
    """32-bit FNV-1a hash."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & _M
    return h


def mulberry32(seed: int) -> Iterator[float]:
    """The mulberry32 generator (32-bit integer arithmetic, as JavaScript's ``Math.imul``)."""
    a = seed & _M
    while True:
        a = (a + 0x6D2B79F5) & _M
        t = ((a ^ (a >> 15)) * (1 | a)) & _M
        t = ((t + (((t ^ (t >> 7)) * (61 | t)) & _M)) & _M) ^ t
        yield ((t ^ (t >> 14)) & _M) / 4294967296


def reader_order(item_ids: Sequence[str], seed: int, reader: str) -> list[str]:
    """The order in which ``reader`` sees ``item_ids`` (see the module doc)."""
    rand = mulberry32(fnv1a32(f"{seed}:{reader.strip()}".encode()))
    out = list(item_ids)
    for i in range(len(out) - 1, 0, -1):
        j = int(next(rand) * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out
