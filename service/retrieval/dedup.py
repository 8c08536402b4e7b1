"""Distinct passages: near-identical ones (syndicated copies of one story, by exact shingle
overlap) collapse into the best, and the chunks of one paragraph become one passage.

**One passage per paragraph**, so the top k holds k distinct paragraphs.

A long paragraph is split into several chunks, and two of them often rank together. Whether
they share text (the 40-token overlap) or not (a boundary sentence longer than the overlap
leaves none), they fill two of the k slots with one paragraph. Neighbouring chunks of one
paragraph are joined into one passage spanning both: still an exact slice of the document
(``text[char_start:char_end]``), ranked where the better one was. A chunk farther away in the
same paragraph gives way: it joins the better one's ``duplicates`` (still read by the
model-free extractor) and its slot goes to the next paragraph. Joining it too would make one
passage of a whole article written without line breaks.

A paragraph is read from the document text alone, so every index and both query paths
(one process, shards) agree without storing anything: a blank line ends one, and so does a
line break after a sentence end (news sites put a paragraph a line); a line break anywhere
else is wrapped text inside a paragraph.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from citeqa.text import split_lines
from citeqa.types import Chunk, Passage
from indexer.embedding import Vectors

_WORD = re.compile(r"\w+")
SHINGLE = 3
DUPLICATE_JACCARD = 0.5
DUPLICATE_COSINE = 0.95
# Mixes a shingle's word hashes into one 64-bit key (odd, so no bit of a word is lost).
_MIX = np.int64(0x100000001B3)


def shingle_keys(texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """Every text's word 3-shingles (lower-cased) as numbers equal where the shingles are, and
    the text each belongs to.

    The numbers hold for one process: they mix the words' string hashes, which Python seeds
    per process (two different shingles share a 64-bit key about once in 10**19 pairs). A
    text shorter than a shingle is one shingle of its words.
    """
    hashes: list[int] = []
    ends: list[int] = []
    for text in texts:
        words = _WORD.findall(text.lower())
        if len(words) < SHINGLE:
            hashes += [0] * (SHINGLE - len(words))  # 0 pads a short text to one shingle
        # Hashing in C (map) costs a fraction of numbering the words in a Python loop.
        hashes += map(hash, words)
        ends.append(len(hashes))
    at = np.array(hashes, dtype=np.int64)
    count = max(len(at) - SHINGLE + 1, 0)
    keys = at[:count]
    for offset in range(1, SHINGLE):
        keys = keys * _MIX + at[offset : offset + count]  # wraps around, as hashes do
    # A shingle belongs to the text it starts in, and counts only if it ends there too.
    text_of = np.repeat(np.arange(len(ends)), np.diff([0, *ends]))[:count]
    whole = np.arange(count) + SHINGLE <= np.asarray(ends, dtype=np.int64)[text_of]
    return keys[whole], text_of[whole]


def jaccard_matrix(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """The exact Jaccard similarity of every two texts' shingle sets.

    A window holds a few dozen passages, so exact overlap costs less than estimating it
    with MinHash signatures, which would also need a cache to be fast at a million chunks.

    >>> jaccard_matrix(["the cat sat on the mat", "the cat sat on a mat", "dogs bark"]).round(2)
    array([[1.  , 0.33, 0.  ],
           [0.33, 1.  , 0.  ],
           [0.  , 0.  , 1.  ]])
    """
    if not texts:
        return np.zeros((0, 0))
    keys, rows = shingle_keys(texts)
    _, column = np.unique(keys, return_inverse=True)
    incidence = np.zeros((len(texts), int(column.max()) + 1), dtype=np.float32)
    incidence[rows, column] = 1.0  # a shingle met twice in a text is counted once
    shared = (incidence @ incidence.T).astype(np.float64)  # exact: counts below 2**24
    sizes = np.diag(shared)
    union = sizes[:, None] + sizes[None, :] - shared
    return np.divide(shared, union, out=np.ones_like(shared), where=union > 0)


_FACT = re.compile(r"\w*\d\w*|[A-Z][\w’'-]+")


def facts(text: str) -> frozenset[str]:
    """Numbers and capitalised words: what two copies of one story must agree on."""
    return frozenset(_FACT.findall(text))


def group_near_duplicates(
    texts: Sequence[str],
    threshold: float,
    similar: Sequence[Sequence[float]] | None = None,
    similar_threshold: float = 1.01,
) -> list[int]:
    """For each passage, the index of the earlier (better-ranked) one it duplicates, or itself.

    Two passages are duplicates when the Jaccard similarity of their word shingles reaches
    ``threshold`` or, if given, their vector similarity reaches ``similar_threshold``, and
    they state the same facts (numbers, capitalised names) of their ``texts``.
    """
    leader = list(range(len(texts)))
    # Facts are read only for pairs of near-copies, which are few: reading them for every
    # passage was a fifth of a query's retrieval time on the NYT dev index.
    found: dict[int, frozenset[str]] = {}

    def facts_of(at: int) -> frozenset[str]:
        if at not in found:
            found[at] = facts(texts[at])
        return found[at]

    if not texts:
        return leader
    jaccard = jaccard_matrix(texts).tolist()
    for i in range(len(texts)):
        for j in range(i):
            if leader[j] != j:
                continue
            # A copy that changes only a figure or a name is a disagreement, not a duplicate:
            # both stay visible. A rewrite of the same story (low word overlap, same meaning)
            # is collapsed whatever its wording.
            copy = jaccard[i][j] >= threshold
            rewrite = similar is not None and similar[i][j] >= similar_threshold
            if (copy and facts_of(i) == facts_of(j)) or (rewrite and not copy):
                leader[i] = j
                break
    return leader


def collapse(
    passages: list[Passage],
    top_k: int,
    vectors_of: Callable[[list[Passage]], Vectors],
) -> list[Passage]:
    """Keep the best of each group of near-identical passages; list the rest with it.

    ``vectors_of`` gives the chunk vectors of a list of passages.
    """
    window = passages[: max(top_k * 3, 10)]
    if len(window) < 2:
        return passages
    vectors = vectors_of(window)
    similar = (vectors @ vectors.T).tolist()
    leaders = group_near_duplicates(
        [p.chunk.text for p in window],
        DUPLICATE_JACCARD,
        similar,
        DUPLICATE_COSINE,
    )
    followers: dict[int, list[Passage]] = {}
    for i, leader in enumerate(leaders):
        if leader != i:
            followers.setdefault(leader, []).append(window[i])
    kept = [
        replace(passage, duplicates=tuple(followers[i])) if i in followers else passage
        for i, passage in enumerate(window)
        if leaders[i] == i
    ]
    return kept + passages[len(window) :]


# -- one passage per paragraph ----------------------------------------------------------------

# A line ending a sentence, possibly inside closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


@dataclass(frozen=True)
class Paragraphs:
    """The paragraphs of one document text, as ``[start, end)`` offsets in order.

    Example:
        >>> found = Paragraphs.of("Title\\n\\nOne line\\nwrapped. Two.\\nThree.")
        >>> [found.text[s:e] for s, e in zip(found.starts, found.ends)]
        ['Title', 'One line\\nwrapped. Two.', 'Three.']
    """

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Paragraphs:
        """Find the paragraphs of ``text``."""
        starts: list[int] = []
        ends: list[int] = []
        open_paragraph = False
        for line in split_lines(text):
            if not line.text.strip():
                open_paragraph = False
                continue
            if open_paragraph:
                ends[-1] = line.end
            else:
                starts.append(line.start)
                ends.append(line.end)
            open_paragraph = not _SENTENCE_END.search(line.text)
        return cls(text, tuple(starts), tuple(ends))

    def within(self, start: int, end: int) -> range:
        """Indexes of the paragraphs that ``[start, end)`` shares a character with."""
        return range(bisect_right(self.ends, start), bisect_left(self.starts, end))

    def share(self, one: Chunk, other: Chunk) -> bool:
        """True when both chunks hold text of one paragraph (same document assumed)."""
        first = self.within(one.char_start, one.char_end)
        second = self.within(other.char_start, other.char_end)
        return first.start < second.stop and second.start < first.stop

    def neighbours(self, one: Chunk, other: Chunk) -> bool:
        """True when nothing but white space lies between the chunks (or they overlap)."""
        gap = self.text[min(one.char_end, other.char_end) : max(one.char_start, other.char_start)]
        return not gap.strip()


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


def give_way(first: Passage, other: Passage) -> Passage:
    """``first`` with ``other`` (and what ``other`` had collapsed) among its duplicates."""
    return replace(
        first, duplicates=(*first.duplicates, replace(other, duplicates=()), *other.duplicates)
    )


def join_paragraphs(
    passages: Sequence[Passage], top_k: int, document_text: Callable[[str], str]
) -> list[Passage]:
    """Fold each passage into a better-ranked one of its paragraph, until ``top_k`` are kept.

    ``document_text`` is read only for a document with two passages here, once per call.
    """
    found: dict[str, Paragraphs] = {}

    def paragraphs(doc_id: str) -> Paragraphs:
        if doc_id not in found:
            found[doc_id] = Paragraphs.of(document_text(doc_id))
        return found[doc_id]

    kept: list[Passage] = []
    for passage in passages:
        if len(kept) == top_k:
            break
        kept.append(passage)
        _settle(kept, paragraphs)
    return kept


def _settle(kept: list[Passage], paragraphs: Callable[[str], Paragraphs]) -> None:
    """Fold the worse of any two kept passages of one paragraph into the better, until none.

    A join can reach into a paragraph that another kept passage holds (a chunk may span two
    paragraphs), so one fold can call for the next.
    """
    while pair := _first_shared(kept, paragraphs):
        better, worse = pair
        document = paragraphs(kept[better].chunk.doc_id)
        if document.neighbours(kept[better].chunk, kept[worse].chunk):
            kept[better] = join(kept[better], kept[worse], document.text)
        else:
            kept[better] = give_way(kept[better], kept[worse])
        del kept[worse]


def _first_shared(
    kept: Sequence[Passage], paragraphs: Callable[[str], Paragraphs]
) -> tuple[int, int] | None:
    for worse in range(1, len(kept)):
        for better in range(worse):
            one, other = kept[better].chunk, kept[worse].chunk
            if one.doc_id == other.doc_id and paragraphs(one.doc_id).share(one, other):
                return better, worse
    return None


def distinct_paragraphs(passages: Sequence[Passage], document_text: Callable[[str], str]) -> int:
    """How many passages share no paragraph with a better-ranked one (for measuring)."""
    found: dict[str, Paragraphs] = {}
    count = 0
    for rank, passage in enumerate(passages):
        doc_id = passage.chunk.doc_id
        earlier = [p.chunk for p in passages[:rank] if p.chunk.doc_id == doc_id]
        if earlier and doc_id not in found:
            found[doc_id] = Paragraphs.of(document_text(doc_id))
        count += not any(found[doc_id].share(chunk, passage.chunk) for chunk in earlier)
    return count
