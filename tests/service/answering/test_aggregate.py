"""Aggregation of candidates: agreement, disagreement and abstention, without an index."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from citeqa.types import Candidate, Chunk, Document, Hit, Passage, ScoredSentence
from service.answering.aggregate import aggregate
from service.answering.question import classify_question
from service.answering.reader_extractor import ALTERNATIVE_RATIO

TEXTS = {
    "a": "Pedro Inzunza Noriega was charged first. Claudia Sheinbaum spoke.",
    "b": "Claudia Sheinbaum said nothing about it.",
    "c": "Sheinbaum met reporters on Monday.",
}


def _index() -> Any:
    return SimpleNamespace(documents={k: Document(k, v, title=k) for k, v in TEXTS.items()})


def _candidate(
    doc_id: str,
    text: str,
    score: float,
    row: int,
    lexical: float = 0.5,
    texts: Mapping[str, str] = TEXTS,
) -> Candidate:
    document = texts[doc_id]
    start = document.index(text)
    sentence_end = document.index(".", start) + 1
    sentence_start = document.rfind(". ", 0, start) + 2 if ". " in document[:start] else 0
    sentence = ScoredSentence(
        row,
        doc_id,
        sentence_start,
        sentence_end,
        document[sentence_start:sentence_end],
        0.5,
        lexical,
        0.5,
    )
    return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)


def test_weak_mentions_in_other_sources_do_not_outvote_a_confident_answer() -> None:
    question = classify_question("Who was the first person charged?")
    candidates = [
        _candidate("a", "Pedro Inzunza Noriega", 0.97, 0),
        _candidate("a", "Claudia Sheinbaum", 0.93, 1),
        _candidate("b", "Claudia Sheinbaum", 0.05, 2),  # below the threshold: no witness
        _candidate("c", "Sheinbaum", 0.04, 3),
    ]

    result = aggregate(_index(), candidates, question, 0.4, ALTERNATIVE_RATIO)

    assert result.answer is not None
    assert result.answer.text == "Pedro Inzunza Noriega"
    assert result.answer.supporting == ()


AGREEING = {
    "a": "Claudia Sheinbaum spoke about the extradition.",
    "b": "On the extradition, Claudia Sheinbaum spoke to reporters.",
    "c": "Sheinbaum spoke of the extradition on Monday.",
}


def test_confident_sources_that_agree_support_the_answer() -> None:
    question = classify_question("Who spoke about the extradition?")
    candidates = [
        _candidate("a", "Claudia Sheinbaum", 0.8, 1, texts=AGREEING),
        _candidate("b", "Claudia Sheinbaum", 0.7, 2, texts=AGREEING),
        _candidate("c", "Sheinbaum", 0.6, 3, texts=AGREEING),
    ]
    index: Any = SimpleNamespace(documents={k: Document(k, v) for k, v in AGREEING.items()})

    result = aggregate(index, candidates, question, 0.4, ALTERNATIVE_RATIO)

    assert result.answer is not None and result.answer.text == "Claudia Sheinbaum"
    assert {c.doc_id for c in result.answer.supporting} == {"b", "c"}
    assert result.answer.confidence > 0.8  # agreement adds to the best source's score


def test_below_the_threshold_the_answer_is_null() -> None:
    question = classify_question("Who spoke?")
    result = aggregate(_index(), [_candidate("a", "Claudia Sheinbaum", 0.3, 1)], question, 0.4)

    assert result.answer is None and result.alternatives == []


def test_a_figure_is_answered_alone_and_keeps_its_best_evidence() -> None:
    texts = {"a": "Mexico sent 37 inmates north.", "b": "The 37 were flown out."}
    index: Any = SimpleNamespace(documents={k: Document(k, v) for k, v in texts.items()})

    def candidate(doc_id: str, text: str, score: float) -> Candidate:
        document = texts[doc_id]
        start = document.index(text)
        sentence = ScoredSentence(0, doc_id, 0, len(document), document, 0.5, 0.5, 0.5)
        return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)

    result = aggregate(
        index,
        [candidate("a", "37 inmates", 0.9), candidate("b", "37", 0.7)],
        classify_question("How many were sent?"),
        0.4,
        ALTERNATIVE_RATIO,
    )

    assert result.answer is not None and result.answer.text == "37"
    assert result.answer.confidence >= 0.9  # credited with the strongest member
    assert [c.doc_id for c in result.answer.supporting] == ["a"]


FIGURES = {
    "a": "To date, Mexico has extradited 92 people, and 12 more are waiting.",
    "b": "Mexico sent 37 inmates north in the latest flight.",
    "c": "In February, Mexico sent 29 to the United States.",
    "d": "Mexico has sent three flights.",
    "e": "Officials counted 3 flights in all.",
}


def _figure(doc_id: str, text: str, score: float, row: int, lexical: float = 0.5) -> Candidate:
    """A candidate whose sentence is the whole of its (one-sentence) document."""
    document = FIGURES[doc_id]
    start = document.index(text)
    sentence = ScoredSentence(row, doc_id, 0, len(document), document, 0.5, lexical, 0.5)
    return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)


def _figures_index() -> Any:
    return SimpleNamespace(documents={k: Document(k, v) for k, v in FIGURES.items()})


def test_figures_for_other_scopes_are_alternatives_with_their_qualifiers_not_a_dispute() -> None:
    question = classify_question("How many people has Mexico extradited?")
    candidates = [
        _figure("a", "92", 0.9, 0),
        _figure("b", "37", 0.8, 1),
        _figure("c", "29", 0.7, 2),
    ]

    result = aggregate(_figures_index(), candidates, question, 0.4)

    assert result.answer is not None and result.answer.text == "92"
    assert result.answer.qualifier == "To date"
    assert [(a.text, a.qualifier) for a in result.alternatives] == [
        ("37", "in the latest flight"),
        ("29", "In February"),
    ]
    assert result.sources_disagree is False
    assert not any(a.disagrees for a in result.alternatives)
    for alternative in result.alternatives:
        citation = alternative.citation
        assert FIGURES[citation.doc_id][citation.char_start : citation.char_end] == alternative.text


def test_a_value_of_a_thing_named_before_takes_its_earlier_scope_and_is_no_dispute() -> None:
    """ "The extradition of the 37" is the latest one the article named a sentence before:
    another source's 29 for February speaks of another extradition."""
    texts = {
        "r": "Mexico made the latest extradition of cartel leaders on Tuesday. After the "
        "extradition of the 37 inmates, the US praised the cooperation.",
        "s": "In February, after the extradition of 29 inmates, the US praised the cooperation.",
    }
    index: Any = SimpleNamespace(documents={k: Document(k, v) for k, v in texts.items()})

    result = aggregate(
        index,
        [_candidate("s", "29", 0.9, 0, texts=texts), _candidate("r", "37", 0.8, 1, texts=texts)],
        classify_question("How many inmates were extradited?"),
        0.4,
    )

    assert result.answer is not None and result.answer.qualifier == "In February"
    assert [(a.text, a.qualifier, a.disagrees) for a in result.alternatives] == [
        ("37", "the latest extradition", False)
    ]
    assert result.sources_disagree is False


SAME_SCOPE = {
    "f": "In February, Mexico sent 29 people to the United States.",
    "g": "In February, Mexico sent 31 people to the United States, officials said.",
    "h": "Mexico sent 29 people north in February; in March it sent 31 more.",
}


def _scoped(doc_id: str, text: str, score: float, row: int, at: int = 0) -> Candidate:
    document = SAME_SCOPE[doc_id]
    start = document.index(text, at)
    sentence = ScoredSentence(row, doc_id, 0, len(document), document, 0.5, 0.5, 0.5)
    return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)


def test_other_sources_with_another_value_for_the_same_scope_disagree() -> None:
    index: Any = SimpleNamespace(documents={k: Document(k, v) for k, v in SAME_SCOPE.items()})
    question = classify_question("How many people did Mexico send in February?")
    candidates = [_scoped("f", "29", 0.9, 0), _scoped("g", "31", 0.8, 1)]

    result = aggregate(index, candidates, question, 0.4)

    assert result.answer is not None and result.answer.text == "29"
    assert [(a.text, a.disagrees) for a in result.alternatives] == [("31", True)]
    assert result.sources_disagree is True


def test_another_value_in_the_answers_own_article_is_context() -> None:
    documents = {
        "f": Document("f", SAME_SCOPE["f"], url="https://news.example/a"),
        "g": Document("g", SAME_SCOPE["g"], url="https://news.example/a"),
    }
    question = classify_question("How many people did Mexico send in February?")
    candidates = [_scoped("f", "29", 0.9, 0), _scoped("g", "31", 0.8, 1)]

    index: Any = SimpleNamespace(documents=documents)
    result = aggregate(index, candidates, question, 0.4)

    assert [(a.text, a.disagrees) for a in result.alternatives] == [("31", False)]
    assert result.sources_disagree is False


ACCUSATIONS = {
    "p": "Trump has repeatedly accused Mexico of being run by cartels.",
    "q": "Trump has accused Mexico of protecting politicians with ties to the cartels.",
}


@pytest.mark.parametrize(
    ("first", "second", "disagree"),
    [
        # Two clauses can both be true: a source says one, another source the other.
        ("being run by cartels", "protecting politicians with ties to the cartels", False),
        # A value of a word or two, or a name, is what two sources contradict.
        ("cartels", "politicians", True),
    ],
)
def test_two_clauses_are_two_answers_not_a_dispute(first: str, second: str, disagree: bool) -> None:
    index: Any = SimpleNamespace(documents={k: Document(k, v) for k, v in ACCUSATIONS.items()})
    question = classify_question("What has Trump accused Mexico of?")

    def candidate(doc_id: str, text: str, score: float, row: int) -> Candidate:
        document = ACCUSATIONS[doc_id]
        start = document.index(text)
        sentence = ScoredSentence(row, doc_id, 0, len(document), document, 0.5, 0.5, 0.5)
        return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)

    candidates = [candidate("p", first, 0.95, 0), candidate("q", second, 0.93, 1)]
    result = aggregate(index, candidates, question, 0.4, ALTERNATIVE_RATIO)

    assert [a.text for a in result.alternatives] == [second]
    assert result.sources_disagree is disagree


COPIES = {
    "true": "The game was played at Raymond James Stadium in Tampa, Florida, on February 7.",
    "fake": "The game was played at Raymond James Stadium in Glendale, Arizona, on February 7.",
}


def test_a_copy_of_the_answers_sentence_with_another_value_disagrees_unread() -> None:
    """The reader read only the first copy; the second source's value is aligned from it."""
    from citeqa.types import Chunk, Hit, Passage

    index: Any = SimpleNamespace(documents={k: Document(k, v) for k, v in COPIES.items()})
    question = classify_question("Where was the game played?")
    sentences = {
        k: ScoredSentence(i, k, 0, len(v), v, 0.5, 0.5, 0.5)
        for i, (k, v) in enumerate(COPIES.items())
    }
    passages = [
        Passage(Hit(Chunk(k, 0, 0, len(v), v), 1.0), 1.0, (sentences[k],))
        for k, v in COPIES.items()
    ]
    start = COPIES["true"].index("Tampa, Florida")
    answer = Candidate(
        "true", start, start + 14, "Tampa, Florida", "READER", 0.9, sentences["true"]
    )

    result = aggregate(index, [answer], question, 0.4, passages=passages)

    assert result.answer is not None and result.answer.text == "Tampa, Florida"
    assert [(a.text, a.disagrees) for a in result.alternatives] == [("Glendale, Arizona", True)]
    citation = result.alternatives[0].citation
    assert COPIES["fake"][citation.char_start : citation.char_end] == "Glendale, Arizona"
    assert result.sources_disagree is True


def test_a_figure_in_the_answers_own_sentence_is_context_not_a_dispute() -> None:
    question = classify_question("How many people has Mexico extradited?")
    candidates = [_figure("a", "92", 0.9, 0), _figure("a", "12", 0.85, 0)]

    result = aggregate(_figures_index(), candidates, question, 0.4)

    assert result.alternatives == [] and result.sources_disagree is False


@pytest.mark.parametrize(
    ("score", "lexical"),
    [
        (0.35, 0.5),  # under the abstention threshold
        (0.5, 0.5),  # under 0.6 of the answer's score (aggregate's default ratio for figures)
        (0.8, 0.3),  # from a sentence far less about the question (under 0.7 of its terms)
    ],
)
def test_weak_or_off_topic_figures_are_not_alternatives(score: float, lexical: float) -> None:
    question = classify_question("How many people has Mexico extradited?")
    candidates = [_figure("a", "92", 0.9, 0), _figure("b", "37", score, 1, lexical)]

    result = aggregate(_figures_index(), candidates, question, 0.4)

    assert result.answer is not None and result.answer.text == "92"
    assert result.alternatives == [] and result.sources_disagree is False


def test_a_figure_in_words_and_in_digits_is_one_answer() -> None:
    question = classify_question("How many flights has Mexico sent?")
    candidates = [_figure("d", "three", 0.8, 0), _figure("e", "3", 0.7, 1)]

    result = aggregate(_figures_index(), candidates, question, 0.4)

    assert result.answer is not None and result.alternatives == []
    assert [c.doc_id for c in result.answer.supporting] == ["e"]


LAUREATES = {
    "a": "Peter Handke.",
    "b": "The 2018 Nobel Prize in Literature was awarded to the writer Peter Handke (born 1942).",
    "c": "The 2018 Nobel Prize in Literature was awarded to the writer Olga Tokarczuk (born 1962).",
    "d": "The 2018 Nobel Prize in Literature went to Peter Handke, to protests from critics.",
}


def _laureate(doc_id: str, text: str, score: float, row: int) -> Candidate:
    document = LAUREATES[doc_id]
    start = document.index(text)
    sentence = ScoredSentence(row, doc_id, 0, len(document), document, 0.5, 0.5, 0.5)
    return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)


def _laureates() -> Any:
    return SimpleNamespace(documents={k: Document(k, v) for k, v in LAUREATES.items()})


def _passages(*doc_ids: str) -> list[Passage]:
    return [
        Passage(
            Hit(Chunk(d, 0, 0, len(LAUREATES[d]), LAUREATES[d]), 1.0),
            1.0,
            (ScoredSentence(i, d, 0, len(LAUREATES[d]), LAUREATES[d], 0.5, 0.5, 0.5),),
        )
        for i, d in enumerate(doc_ids)
    ]


def test_a_value_disagrees_through_a_copy_of_its_rivals_sentence() -> None:
    """The answer's best reading is a bare name; another source states it in a copy of the
    rival's sentence, so the two speak of the same thing."""
    question = classify_question("Who won the 2018 Nobel Prize in Literature?")
    candidates = [
        _laureate("a", "Peter Handke", 0.98, 0),
        _laureate("b", "Peter Handke", 0.9, 1),
        _laureate("c", "Olga Tokarczuk", 0.95, 2),
    ]

    result = aggregate(
        _laureates(),
        candidates,
        question,
        0.4,
        ALTERNATIVE_RATIO,
        passages=_passages("a", "b", "c"),
    )

    assert result.answer is not None and result.answer.text == "Peter Handke"
    assert [(a.text, a.disagrees) for a in result.alternatives] == [("Olga Tokarczuk", True)]
    assert result.sources_disagree is True


def test_sentences_that_only_repeat_a_value_do_not_say_what_it_is_about() -> None:
    """Another sentence naming the answer shares words with the rival's, but no copy ties
    them: its best reading (a bare name) says nothing of the prize, so this is context."""
    question = classify_question("Who won the 2018 Nobel Prize in Literature?")
    candidates = [
        _laureate("a", "Peter Handke", 0.98, 0),
        _laureate("d", "Peter Handke", 0.9, 1),
        _laureate("c", "Olga Tokarczuk", 0.95, 2),
    ]

    result = aggregate(
        _laureates(),
        candidates,
        question,
        0.4,
        ALTERNATIVE_RATIO,
        passages=_passages("a", "d", "c"),
    )

    assert [(a.text, a.disagrees) for a in result.alternatives] == [("Olga Tokarczuk", False)]
    assert result.sources_disagree is False


def _one_document(text: str, spans: list[tuple[str, float]]) -> tuple[Any, list[Candidate]]:
    """An index of one one-sentence document and candidates at the given spans."""
    index: Any = SimpleNamespace(documents={"a": Document("a", text)})
    sentence = ScoredSentence(0, "a", 0, len(text), text, 0.5, 0.5, 0.5)
    candidates = []
    for span, score in spans:
        start = text.index(span)
        candidates.append(Candidate("a", start, start + len(span), span, "READER", score, sentence))
    return index, candidates


def test_a_fuller_name_is_kept_with_the_strongest_evidence() -> None:
    index, candidates = _one_document(
        "Marco Rubio asked three times.", [("Rubio", 0.9), ("Marco Rubio", 0.6)]
    )

    result = aggregate(index, candidates, classify_question("Who asked?"), 0.4)

    assert result.answer is not None and result.answer.text == "Marco Rubio"
    assert result.answer.confidence >= 0.9


def test_a_clause_that_holds_the_answer_does_not_replace_it() -> None:
    text = "It depends on what kind of guys are going to move in free agency."
    index, candidates = _one_document(
        text, [("free agency", 0.97), ("what kind of guys are going to move in free agency", 0.86)]
    )

    result = aggregate(index, candidates, classify_question("What will have an impact?"), 0.4)

    assert result.answer is not None and result.answer.text == "free agency"


def test_a_surname_after_a_first_name_is_kept() -> None:
    index, candidates = _one_document(
        "James Jones made two shots.", [("James", 0.9), ("James Jones", 0.6)]
    )

    result = aggregate(index, candidates, classify_question("Who made two shots?"), 0.4)

    assert result.answer is not None and result.answer.text == "James Jones"


def test_a_name_after_the_answer_makes_another_thing() -> None:
    text = "Garcia runs in Central Park and lives on Central Park West."
    index, candidates = _one_document(text, [("Central Park", 0.98), ("Central Park West", 0.96)])

    result = aggregate(index, candidates, classify_question("Which park does he run in?"), 0.4)

    assert result.answer is not None and result.answer.text == "Central Park"


def test_a_fuller_date_is_kept() -> None:
    index, candidates = _one_document(
        "The phone goes on sale on September 20, 2019.",
        [("September 20", 0.9), ("September 20, 2019", 0.7)],
    )

    result = aggregate(index, candidates, classify_question("When does it go on sale?"), 0.4)

    assert result.answer is not None and result.answer.text == "September 20, 2019"


ROOMS = {
    "a": "The master bedroom is 195 square feet.",
    "b": "The master bedroom has two closets.",
    "c": "Two guests arrived late.",
    "d": "A master bedroom of two closets.",
}


@pytest.mark.parametrize(("second", "answer"), [("c", "195 square feet"), ("d", "two")])
def test_only_a_witness_about_the_same_thing_supports_a_value(second: str, answer: str) -> None:
    index: Any = SimpleNamespace(documents={k: Document(k, v) for k, v in ROOMS.items()})

    def candidate(doc_id: str, text: str, score: float, row: int) -> Candidate:
        document = ROOMS[doc_id]
        start = document.lower().index(text.lower())
        text = document[start : start + len(text)]
        sentence = ScoredSentence(row, doc_id, 0, len(document), document, 0.5, 0.5, 0.5)
        return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)

    candidates = [
        candidate("a", "195 square feet", 0.98, 0),
        candidate("b", "two", 0.95, 1),
        candidate(second, "two", 0.9, 2),
    ]
    result = aggregate(index, candidates, classify_question("How large is the bedroom?"), 0.4)

    assert result.answer is not None and result.answer.text.lower() == answer


def test_parts_of_one_article_are_one_witness() -> None:
    texts = {
        "a": "Clayton Kershaw pitched for the Dodgers.",
        "b": "The Mets lost on Sunday.",
        "c": "The Mets had won the game before.",
    }
    urls = {"a": "https://example.com/dodgers", "b": "https://example.com/mets"}
    urls["c"] = urls["b"]  # two paragraphs of one article
    index: Any = SimpleNamespace(
        documents={k: Document(k, v, url=urls[k]) for k, v in texts.items()}
    )

    def candidate(doc_id: str, text: str, score: float) -> Candidate:
        document = texts[doc_id]
        start = document.index(text)
        sentence = ScoredSentence(0, doc_id, 0, len(document), document, 0.5, 0.5, 0.5)
        return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)

    candidates = [
        candidate("a", "Clayton Kershaw", 0.93),
        candidate("b", "Mets", 0.9),
        candidate("c", "Mets", 0.9),
    ]

    result = aggregate(index, candidates, classify_question("Who was pitching?"), 0.4)

    assert result.answer is not None and result.answer.text == "Clayton Kershaw"
