"""BM25 tokenises chunks and queries with the same function the rest of citeqa uses."""

from __future__ import annotations

from citeqa.text import content_terms
from indexer.lexical import LexicalIndex

TEXTS = [
    "Police said they arrested 5 people in Veracruz.",
    "Police said they arrested 7 people in Veracruz.",
    "The ferry to Cozumel resumed on Monday.",
]


def test_a_one_character_figure_is_a_term() -> None:
    ids, scores = LexicalIndex.build(TEXTS).search("Who arrested 5 people?", 3)
    assert list(ids[:2]) == [0, 1] and scores[0] > scores[1]


def test_words_the_query_side_drops_are_not_indexed_either() -> None:
    assert "said" not in content_terms("Police said")
    ids, _ = LexicalIndex.build(TEXTS).search("said", 3)
    assert list(ids) == []


def test_stemmed_query_words_find_their_chunk() -> None:
    ids, _ = LexicalIndex.build(TEXTS).search("ferries resuming", 3)
    assert list(ids) == [2]
