"""Offsets, token budgets and sentence boundaries of chunks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from citeqa.types import Span
from indexer.chunking import Chunker
from indexer.cleaning import classify_lines, content_blocks
from indexer.embedding import Embedder
from indexer.index import Index

MODEL_MAX_TOKENS = 256


def test_every_seed_chunk_is_a_slice_of_the_original(seed_index: Index) -> None:
    assert len(seed_index.documents) == 5
    for chunk in seed_index.chunks:
        original = seed_index.documents[chunk.doc_id].text
        assert original[chunk.char_start : chunk.char_end] == chunk.text, chunk.chunk_id


def test_chunks_fit_the_model(seed_index: Index, embedder: Embedder) -> None:
    for chunk in seed_index.chunks:
        assert embedder.count_tokens(chunk.text) + 2 <= MODEL_MAX_TOKENS, chunk.chunk_id


def test_chunk_sentences_lie_inside_the_chunk(seed_index: Index) -> None:
    for chunk in seed_index.chunks:
        assert chunk.sentences, f"{chunk.chunk_id} has no sentences"
        for sentence in chunk.sentences:
            assert chunk.char_start <= sentence.start < sentence.end <= chunk.char_end


def test_seed_files_are_stored_unchanged(seed_index: Index) -> None:
    from tests.conftest import SEEDS

    for path in SEEDS.glob("*.txt"):
        assert seed_index.documents[path.stem].text == path.read_text(encoding="utf-8")


def _word_count(text: str) -> int:
    return len(text.split())


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé’0123456789", min_size=1, max_size=12)
_sentence = st.builds(
    lambda words, end: " ".join(words).capitalize() + end,
    st.lists(_word, min_size=3, max_size=30),
    st.sampled_from([".", "!", "?", "”", ""]),
)
_paragraph = st.builds(" ".join, st.lists(_sentence, min_size=1, max_size=6))
_document = st.builds(
    lambda paras, seps: "".join(p + s for p, s in zip(paras, seps, strict=False)),
    st.lists(_paragraph, min_size=1, max_size=8),
    st.lists(st.sampled_from(["\n", "\n\n", "\n \n", "\r\n"]), min_size=8, max_size=8),
)


@settings(max_examples=40, deadline=None)
@given(document=_document, size=st.integers(8, 60), overlap_share=st.floats(0, 0.5))
def test_chunks_reassemble_the_content(document: str, size: int, overlap_share: float) -> None:
    document = document.replace("\r\n", "\n")
    chunker = Chunker(_word_count, size, int(size * overlap_share))
    blocks = content_blocks(classify_lines(document))
    chunks = chunker.chunk("doc", document, blocks, [])
    for chunk in chunks:
        assert document[chunk.char_start : chunk.char_end] == chunk.text
        assert _word_count(chunk.text) <= size
    # Every non-space character of every content block is inside some chunk.
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.char_start, chunk.char_end))
    for block in blocks:
        for position in range(block.start, block.end):
            if not document[position].isspace():
                assert position in covered, f"character {position} of a block is lost"


def test_chunker_rejects_bad_settings() -> None:
    import pytest

    with pytest.raises(ValueError, match="chunk_overlap must be"):
        Chunker(_word_count, 10, 10)
    with pytest.raises(ValueError, match="chunk_size must be"):
        Chunker(_word_count, 0, 0)


def test_long_sentence_is_split_but_offsets_hold() -> None:
    text = " ".join(f"word{i}" for i in range(500)) + "."
    chunks = Chunker(_word_count, 50, 10).chunk("d", text, [Span(0, len(text))], [])
    assert len(chunks) > 5
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
