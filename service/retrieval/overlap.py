"""Overlapping chunks of one document become one passage, so the top k holds k passages.

Chunks overlap by design (40 tokens), so two of them often rank together and fill two of the
k slots with the same sentences. Joined, they are one passage spanning both: still an exact
slice of the document (``text[char_start:char_end]``), ranked where the better one was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from citeqa.types import Chunk, Passage


def overlaps(one: Chunk, other: Chunk) -> bool:
    """True when both chunks come from one document and share at least one character."""
    return (
        one.doc_id == other.doc_id
        and one.char_start < other.char_end
        and other.char_start < one.char_end
    )


def join(first: Passage, other: Passage, document_text: str) -> Passage:
    """One passage over both chunks, with the better one's rank and score.

    Example:
        >>> from citeqa.types import Hit
        >>> text = "One. Two. Three."
        >>> a = Passage(Hit(Chunk("d", 0, 0, 9, text[0:9]), 1.0), 0.9, ())
        >>> b = Passage(Hit(Chunk("d", 1, 5, 16, text[5:16]), 0.5), 0.4, ())
        >>> joined = join(a, b, text).chunk
        >>> (joined.char_start, joined.char_end, joined.text)
        (0, 16, 'One. Two. Three.')
    """
    a, b = first.chunk, other.chunk
    start, end = min(a.char_start, b.char_start), max(a.char_end, b.char_end)
    chunk = replace(
        a,
        char_start=start,
        char_end=end,
        text=document_text[start:end],
        sentences=tuple(sorted(set(a.sentences) | set(b.sentences), key=lambda s: s.start)),
    )
    rows = {s.row for s in first.sentences}
    sentences = [*first.sentences, *(s for s in other.sentences if s.row not in rows)]
    sentences.sort(key=lambda s: -s.score)  # stable: the better passage's sentence wins ties
    return replace(
        first,
        hit=replace(first.hit, chunk=chunk),
        sentences=tuple(sentences),
        duplicates=first.duplicates + other.duplicates,
    )


def join_overlaps(
    passages: Sequence[Passage], top_k: int, document_text: Callable[[str], str]
) -> list[Passage]:
    """Fold each passage into a better-ranked one it overlaps, until ``top_k`` are kept."""
    kept: list[Passage] = []
    for passage in passages:
        if len(kept) == top_k:
            break
        for i, leader in enumerate(kept):
            if overlaps(leader.chunk, passage.chunk):
                kept[i] = join(leader, passage, document_text(leader.chunk.doc_id))
                break
        else:
            kept.append(passage)
    return kept
