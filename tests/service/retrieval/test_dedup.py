"""Near-duplicate passages: copies of one story collapse, copies that change a fact do not."""

from __future__ import annotations

from service.retrieval.dedup import facts, group_near_duplicates, minhash

STORY = (
    "Mexico has extradited 92 cartel figures to the United States to date, the security "
    "minister said on Tuesday, after a flight carried 29 more in February."
)
ALTERED = STORY.replace("92", "37")
OTHER = "The port of Veracruz handled 1.4 million containers in 2024, a record for the port."
JACCARD = 0.5


def _leaders(texts: list[str], similar: list[list[float]] | None = None) -> list[int]:
    return group_near_duplicates([minhash(t) for t in texts], texts, JACCARD, similar, 0.95)


def test_facts_are_numbers_and_capitalised_words() -> None:
    assert facts("Mexico sent 29 people to the US in February, officials said.") == {
        "29",
        "February",
        "Mexico",
        "US",
    }
    assert facts("no names, no figures") == frozenset()


def test_identical_text_has_the_same_signature() -> None:
    assert minhash(STORY).jaccard(minhash(STORY)) == 1.0
    assert minhash(STORY).jaccard(minhash(OTHER)) < JACCARD


def test_a_copy_collapses_into_the_earlier_passage() -> None:
    assert _leaders([STORY, OTHER, STORY]) == [0, 1, 0]


def test_a_copy_that_changes_a_figure_stays_visible() -> None:
    # The same words but another figure: the sources disagree, and both must be read.
    assert minhash(STORY).jaccard(minhash(ALTERED)) >= JACCARD
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
