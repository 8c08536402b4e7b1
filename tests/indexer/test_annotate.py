"""Sentences alone (spaCy's senter) or with entities and noun chunks, as the reader needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citeqa.config import Settings
from citeqa.types import Span
from indexer.annotate import Annotator, DeferredAnnotator, load_spacy, split_long
from indexer.embedding import Embedder
from indexer.errors import SpacyModelMissingError
from indexer.factory import make_processor, make_writer
from indexer.generations import current_generation

TEXT = "Mexico sent 26 prisoners to the US in August. The ministry said the report was false."
SEED = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))[0]


@pytest.fixture(scope="module")
def sentences_only(settings: Settings) -> Annotator:
    return Annotator(load_spacy(settings.spacy_model, entities=False))


@pytest.fixture(scope="module")
def with_entities(settings: Settings) -> Annotator:
    return Annotator(load_spacy(settings.spacy_model, entities=True))


def test_senter_finds_the_parsers_sentences_without_entities(
    sentences_only: Annotator, with_entities: Annotator
) -> None:
    alone = sentences_only.annotate(TEXT, [Span(0, len(TEXT))])
    full = with_entities.annotate(TEXT, [Span(0, len(TEXT))])

    assert not sentences_only.entities and with_entities.entities
    assert alone.sentences == full.sentences and len(alone.sentences) == 2
    assert alone.entities == [] and alone.noun_chunks == []
    assert {TEXT[s.start : s.end] for s in full.entities} >= {"Mexico", "26", "August"}


def test_a_deferred_annotator_loads_spacy_when_used_and_annotates_alike(
    settings: Settings, sentences_only: Annotator, with_entities: Annotator
) -> None:
    for entities, eager in ((False, sentences_only), (True, with_entities)):
        deferred = DeferredAnnotator(settings.spacy_model, entities)
        assert deferred.entities == eager.entities  # known before spaCy is loaded
        assert deferred._loading is None
        got = deferred.annotate(TEXT, [Span(0, len(TEXT))])
        assert got == eager.annotate(TEXT, [Span(0, len(TEXT))])
        assert deferred.start_loading() is deferred.start_loading()  # loaded once
    missing = DeferredAnnotator("no_such_spacy_model", entities=False)
    with pytest.raises(SpacyModelMissingError, match="is not installed"):
        missing.annotate(TEXT, [Span(0, len(TEXT))])


def test_entities_are_built_for_the_model_free_extractor_only() -> None:
    assert Settings(_env_file=None).resolved_index_entities() is False  # type: ignore[call-arg]
    none = Settings(_env_file=None, reader="none")  # type: ignore[call-arg]
    assert none.resolved_index_entities() is True
    forced = Settings(_env_file=None, index_entities=True)  # type: ignore[call-arg]
    assert forced.resolved_index_entities() is True


def test_the_manifest_says_whether_entities_are_there(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    for entities in (False, True):
        chosen = settings.model_copy(update={"index_entities": entities})
        index_dir = tmp_path / f"index-{entities}"
        processor = make_processor(chosen, embedder, workers=1)
        make_writer(chosen, index_dir, processor).build([SEED])
        manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text())

        assert manifest["entities"] is entities


def test_a_paragraph_over_spacys_limit_is_annotated_in_pieces() -> None:
    """spaCy refuses a text over nlp.max_length (E088); a long paragraph is cut first, at
    sentence ends, and every offset still points into the original text."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    sentence = "The north pier reopened after the storm. "
    text = sentence * (nlp.max_length // len(sentence) + 2000)
    assert len(text) > nlp.max_length
    found = Annotator(nlp).annotate(text, [Span(0, len(text))])
    assert len(found.sentences) == text.count(". ")
    assert {text[s.start : s.end] for s in found.sentences} == {sentence.strip()}


def test_split_long_cuts_after_sentence_ends_then_spaces() -> None:
    text = "A b. " * 10 + "x" * 30 + " " + "y" * 30
    pieces = split_long(text, 0, len(text), limit=20)
    assert pieces[0] == (0, 20) and text[:20].endswith(". ")
    assert [p[0] for p in pieces[1:]] == [p[1] for p in pieces[:-1]]  # no gap, no overlap
    assert pieces[-1][1] == len(text)
    assert all(end - start <= 20 for start, end in pieces)
