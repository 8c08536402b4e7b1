"""Sentence-aware chunks sized in the embedding model's own tokens, with overlap.

langchain-text-splitters does the splitting; separators go from paragraphs to sentence ends
to words, so a chunk breaks mid-sentence only when one sentence alone exceeds the budget.
Each content block is split on its own, so a chunk never spans removed boilerplate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from citeqa.types import Chunk, Span

if TYPE_CHECKING:
    from langchain_text_splitters import TextSplitter

# Sentence ends followed by space; each alternative is a fixed-width look-behind (Python re).
_SENTENCE_BREAK = r"(?<=[.!?])\s+|(?<=[.!?][\"”’'\)])\s+"
SEPARATORS = ["\n\n", "\n", _SENTENCE_BREAK, r";\s+", r",\s+", r"\s+", ""]
# [CLS] and [SEP] take two of the model's 256 positions.
SPECIAL_TOKENS = 2


def sentences_within(sentences: Sequence[Span], start: int, end: int) -> tuple[Span, ...]:
    """The sentences overlapping ``[start, end)``, clipped to it."""
    return tuple(
        Span(max(s.start, start), min(s.end, end), s.label)
        for s in sentences
        if s.start < end and s.end > start
    )


def _locate(
    text: str,
    piece: str,
    previous: tuple[int, int] | None,
    overlap_fits: Callable[[str], bool],
) -> int:
    """Where ``piece`` starts, given the chunk before it.

    Chunks come in order and leave no gap but white space, so the next one starts after the
    previous start, no later than the first character after the previous end, ends past it,
    and shares at most the overlap with it. Repeated text ("0 0 0. 0 0 0.") makes a plain
    ``find`` pick the wrong copy.
    """
    if previous is None:
        found = text.find(piece)
    else:
        start, end = previous
        limit = end + (len(text[end:]) - len(text[end:].lstrip()))
        found = text.find(piece, start + 1)
        while found != -1 and not (
            found <= limit and found + len(piece) > end and overlap_fits(text[found:end])
        ):
            if found > limit:
                break
            found = text.find(piece, found + 1)
        if found == -1 or found > limit:
            found = text.find(piece, end)
    if found < 0:
        raise RuntimeError(f"chunk text not found in its block: {piece[:60]!r}")
    return found


class Chunker:
    """Splits content blocks into chunks of at most ``chunk_size`` model tokens."""

    def __init__(
        self, count_tokens: Callable[[str], int], chunk_size: int, chunk_overlap: int
    ) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be greater than 0")
        if not 0 <= chunk_overlap < chunk_size:
            raise ValueError("chunk_overlap must be at least 0 and less than chunk_size")
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._count_tokens = count_tokens

    @cached_property
    def _splitter(self) -> TextSplitter:
        # Imported and made on the first split: a server that only answers never splits
        # text, and the import is about a twentieth of its start.
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        return RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            is_separator_regex=True,
            keep_separator="end",
            chunk_size=self.chunk_size - SPECIAL_TOKENS,
            chunk_overlap=self.chunk_overlap,
            length_function=self._count_tokens,
            strip_whitespace=True,
        )

    def _overlap_fits(self, shared: str) -> bool:
        return self._count_tokens(shared) <= self.chunk_overlap

    def split_block(self, text: str, block: Span) -> list[tuple[int, int]]:
        """Return ``(start, end)`` offsets into ``text`` of the chunks of one block."""
        block_text = text[block.start : block.end]
        spans: list[tuple[int, int]] = []
        for piece in self._splitter.split_text(block_text):
            found = _locate(block_text, piece, spans[-1] if spans else None, self._overlap_fits)
            spans.append((found, found + len(piece)))
        return [(block.start + s, block.start + e) for s, e in spans]

    def chunk(
        self, doc_id: str, text: str, blocks: Sequence[Span], sentences: Sequence[Span]
    ) -> list[Chunk]:
        """Chunk a document; each chunk lists the sentences (clipped) that fall inside it."""
        chunks: list[Chunk] = []
        for block in blocks:
            for start, end in self.split_block(text, block):
                inside = sentences_within(sentences, start, end)
                chunks.append(Chunk(doc_id, len(chunks), start, end, text[start:end], inside))
        return chunks
