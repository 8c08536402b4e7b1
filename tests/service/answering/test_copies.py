"""Near copies in other sources: the values they give in a candidate's place, and the
disputes aggregation finds from them. Hand-made documents, no index."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from citeqa.types import Candidate, Chunk, Document, Hit, Passage, ScoredSentence
from service.answering.aggregate import aggregate
from service.answering.qualifiers import copy_rivals
from service.answering.question import classify_question


class Corpus:
    """One-passage documents, each split into the sentences given, rows numbered in order."""

    def __init__(self, documents: dict[str, list[str]], urls: dict[str, str] | None = None):
        self.sentences: dict[str, list[ScoredSentence]] = {}
        texts = {}
        row = 0
        for doc_id, parts in documents.items():
            text, spans = "", []
            for part in parts:
                text += " " if text else ""
                spans.append((len(text), len(text) + len(part)))
                text += part
            texts[doc_id] = text
            self.sentences[doc_id] = []
            for start, end in spans:
                self.sentences[doc_id].append(
                    ScoredSentence(row, doc_id, start, end, text[start:end], 0.5, 0.5, 0.5)
                )
                row += 1
        self.texts = texts
        urls = urls or {}
        self.index: Any = SimpleNamespace(
            documents={k: Document(k, v, url=urls.get(k)) for k, v in texts.items()}
        )

    def passages(self, *doc_ids: str) -> list[Passage]:
        """One passage per document named (default: all)."""
        return [
            Passage(
                Hit(Chunk(d, 0, 0, len(self.texts[d]), self.texts[d]), 1.0),
                1.0,
                tuple(self.sentences[d]),
            )
            for d in doc_ids or self.texts
        ]

    def candidate(self, doc_id: str, text: str, score: float) -> Candidate:
        start = self.texts[doc_id].index(text)
        sentence = next(s for s in self.sentences[doc_id] if s.start <= start < s.end)
        return Candidate(doc_id, start, start + len(text), text, "READER", score, sentence)


STADIUM = Corpus(
    {
        "true": ["Super Bowl 2021 will take place at Raymond James Stadium in Tampa, Florida."],
        "fake": ["Super Bowl 2021 will take place at Raymond James Stadium in Glendale, Arizona."],
    }
)


def test_copies_that_differ_beside_the_answer_disagree_on_that_value() -> None:
    """Both copies give the answer (the stadium); the city they differ on is the dispute,
    though it sits in the answer's own sentence."""
    question = classify_question("Where is the Super Bowl 2021?")
    candidates = [
        STADIUM.candidate("true", "Raymond James Stadium", 0.95),
        STADIUM.candidate("fake", "Raymond James Stadium", 0.94),
        STADIUM.candidate("true", "Tampa, Florida", 0.9),
    ]

    result = aggregate(STADIUM.index, candidates, question, 0.4, passages=STADIUM.passages())

    assert result.answer is not None and result.answer.text == "Raymond James Stadium"
    assert sorted((a.text, a.disagrees) for a in result.alternatives) == [
        ("Glendale, Arizona", True),
        ("Tampa, Florida", True),
    ]
    assert result.sources_disagree is True


def test_a_second_figure_in_the_answers_sentence_without_a_copy_stays_context() -> None:
    question = classify_question("Where is the Super Bowl 2021?")
    candidates = [
        STADIUM.candidate("true", "Raymond James Stadium", 0.95),
        STADIUM.candidate("true", "Tampa, Florida", 0.9),
    ]

    result = aggregate(STADIUM.index, candidates, question, 0.4, passages=STADIUM.passages("true"))

    assert result.alternatives == [] and result.sources_disagree is False


def test_copies_in_one_article_are_not_two_sources() -> None:
    same_url = {"true": "https://news.example/a", "fake": "https://news.example/a"}
    corpus = Corpus({k: [s.text for s in v] for k, v in STADIUM.sentences.items()}, same_url)
    candidate = corpus.candidate("true", "Tampa, Florida", 0.9)

    assert copy_rivals([candidate], corpus.passages(), corpus.index) == []


def test_a_copy_giving_the_same_answer_in_other_words_is_no_rival() -> None:
    corpus = Corpus(
        {
            "a": ["The new chief executive, Tim Buckley, spoke to advisers on Monday."],
            "b": ["The new chief executive, Mortimer Tim Buckley, spoke to advisers on Monday."],
            "c": ["The new chief executive, Abigail Johnson, spoke to advisers on Monday."],
        }
    )
    candidate = corpus.candidate("a", "Tim Buckley", 0.9)

    rivals = copy_rivals([candidate], corpus.passages(), corpus.index)

    assert [(r.copy.doc_id, r.copy.text, r.copy.label) for r in rivals] == [
        ("c", "Abigail Johnson", "COPY")
    ]
    copy = rivals[0].copy
    assert corpus.texts["c"][copy.start : copy.end] == "Abigail Johnson"
    assert copy.sentence.doc_id == "c" and copy.score < candidate.score


BUNDLE = "Xenoblade Chronicles 2 and its Expansion Pass, sold as one bundle in the eShop."
RELEASE = Corpus(
    {
        "true": [BUNDLE, "Release date.", "December 1, 2017 ..."],
        "fake": [BUNDLE, "Release date.", "November 8, 2021 ..."],
        "other": ["The soundtrack album was released on 2 August 2023."],
    }
)


def test_a_short_sentence_is_aligned_through_its_copied_passage() -> None:
    """The sentence "December 1, 2017 ..." is too short to match a copy alone; its passage is."""
    candidate = RELEASE.candidate("fake", "November 8, 2021", 0.9)

    rivals = copy_rivals([candidate], RELEASE.passages(), RELEASE.index)

    assert [(r.copy.doc_id, r.copy.text) for r in rivals] == [("true", "December 1, 2017")]
    assert rivals[0].copy.sentence.text == "December 1, 2017 ..."


def test_a_value_and_its_unread_copy_disagree_beside_another_answer() -> None:
    """The reader answered from an unrelated passage and read one copy only: the copies'
    values are listed and disagree, though their sentences share no words."""
    question = classify_question("When was Xenoblade Chronicles 2 released?")
    candidates = [
        RELEASE.candidate("other", "2 August 2023", 0.97),
        RELEASE.candidate("fake", "November 8, 2021", 0.96),
    ]

    result = aggregate(RELEASE.index, candidates, question, 0.4, passages=RELEASE.passages())

    disputed = {a.text: a.disagrees for a in result.alternatives}
    assert disputed == {"November 8, 2021": True, "December 1, 2017": True}
    assert result.sources_disagree is True
