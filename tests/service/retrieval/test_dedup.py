"""Near-duplicate passages: copies of one story collapse, copies that change a fact do not."""

from __future__ import annotations

from service.retrieval.dedup import facts, group_near_duplicates, jaccard_matrix

STORY = (
    "Mexico has extradited 92 cartel figures to the United States to date, the security "
    "minister said on Tuesday, after a flight carried 29 more in February."
)
ALTERED = STORY.replace("92", "37")
OTHER = "The port of Veracruz handled 1.4 million containers in 2024, a record for the port."
JACCARD = 0.5


def _leaders(texts: list[str], similar: list[list[float]] | None = None) -> list[int]:
    return group_near_duplicates(texts, JACCARD, similar, 0.95)


def test_facts_are_numbers_and_capitalised_words() -> None:
    assert facts("Mexico sent 29 people to the US in February, officials said.") == {
        "29",
        "February",
        "Mexico",
        "US",
    }
    assert facts("no names, no figures") == frozenset()


def _jaccard(one: str, two: str) -> float:
    return float(jaccard_matrix([one, two])[0, 1])


def test_jaccard_is_the_exact_share_of_shared_shingles() -> None:
    assert _jaccard(STORY, STORY) == 1.0
    assert _jaccard(STORY, OTHER) == 0.0
    # Shingles {a b c, b c d} and {b c d, c d e}: one shared of three.
    assert _jaccard("a b c d", "B, c d e") == 1 / 3
    # Case and punctuation are not words; a repeated shingle counts once.
    assert _jaccard("A b c. a b c", "a b c a b c a b c") == 1.0
    assert _jaccard("a b c a b c", "a b c") == 1 / 3  # {a b c, b c a, c a b} against {a b c}


def test_texts_shorter_than_a_shingle_compare_whole() -> None:
    assert _jaccard("Mexico", "mexico") == 1.0
    assert _jaccard("Mexico", "Mexico City") == 0.0
    assert _jaccard("", "") == 1.0


def test_a_copy_collapses_into_the_earlier_passage() -> None:
    assert _leaders([STORY, OTHER, STORY]) == [0, 1, 0]


def test_a_copy_that_changes_a_figure_stays_visible() -> None:
    # The same words but another figure: the sources disagree, and both must be read.
    assert _jaccard(STORY, ALTERED) >= JACCARD
    assert _leaders([STORY, ALTERED]) == [0, 1]


def test_a_rewrite_with_the_same_meaning_collapses_by_vector_similarity() -> None:
    similar = [[1.0, 0.97], [0.97, 1.0]]
    assert _leaders([STORY, OTHER], similar) == [0, 0]
    assert _leaders([STORY, OTHER], [[1.0, 0.9], [0.9, 1.0]]) == [0, 1]


def test_a_passage_joins_a_leader_never_another_duplicate() -> None:
    # The third copy joins the first passage, not the second (which is itself a copy).
    assert _leaders([STORY, STORY, STORY]) == [0, 0, 0]


def test_no_passages_no_groups() -> None:
    assert _leaders([]) == []
