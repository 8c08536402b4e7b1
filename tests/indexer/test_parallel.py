"""The threaded build must give exactly what the one-thread build gives, in the same order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from citeqa.config import Settings
from citeqa.types import Document, Span
from indexer.annotate import Annotations, Annotator
from indexer.embedding import Embedder
from indexer.parallel import SlicedEncoder, torch_threads
from indexer.processing import DocumentProcessor

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _documents() -> list[Document]:
    seeds = [Document(p.stem, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))]
    # Short articles, one with nothing but boilerplate-free whitespace, between long ones.
    extra = [
        Document("short-1", "Mexico sent 26 prisoners to the US in August."),
        Document("blank", "   \n\n  "),
        Document("short-2", "The ministry said the report was false.\n\nIt gave no details."),
    ]
    return seeds[:2] + extra + seeds[2:]


def test_threaded_build_matches_sequential(processor: DocumentProcessor) -> None:
    documents = _documents()
    sequential = DocumentProcessor(
        processor.embedder, processor.annotator, processor.chunker, workers=1
    ).process(documents)
    threaded = DocumentProcessor(
        processor.embedder, processor.annotator, processor.chunker, workers=3
    ).process(documents)
    assert [p.document.doc_id for p in threaded] == [d.doc_id for d in documents]
    for one, many in zip(sequential, threaded, strict=True):
        assert one.document == many.document
        assert one.chunks == many.chunks
        assert one.annotations == many.annotations
        # Different batch make-up changes padding, which moves floats in the last digits.
        np.testing.assert_allclose(one.chunk_vectors, many.chunk_vectors, atol=1e-4)
        np.testing.assert_allclose(one.sentence_vectors, many.sentence_vectors, atol=1e-4)
    long = threaded[0]
    assert long.chunks and all(c.sentences for c in long.chunks)
    assert len(long.sentence_vectors) == len(long.annotations.sentences) > 0


def test_batches_stream_gives_what_one_batch_gives(processor: DocumentProcessor) -> None:
    documents = _documents()
    whole = processor.process(documents)
    batches = [documents[:1], documents[1:4], [], documents[4:]]
    streamed = list(processor.process_batches(batches))
    # One list per batch, in order, each with its own documents (an empty batch too).
    assert [[p.document.doc_id for p in batch] for batch in streamed] == [
        [d.doc_id for d in batch] for batch in batches
    ]
    for one, many in zip(whole, [p for batch in streamed for p in batch], strict=True):
        assert one.document == many.document
        assert one.chunks == many.chunks
        assert one.annotations == many.annotations
        np.testing.assert_allclose(one.chunk_vectors, many.chunk_vectors, atol=1e-4)
        np.testing.assert_allclose(one.sentence_vectors, many.sentence_vectors, atol=1e-4)


def test_a_stream_reads_at_most_one_batch_ahead(processor: DocumentProcessor) -> None:
    documents = _documents()
    read: list[int] = []

    def batches() -> Iterator[list[Document]]:
        for at, document in enumerate(documents):
            read.append(at)
            yield [document]

    stream = processor.process_batches(batches())
    first = next(stream)
    assert first[0].document.doc_id == documents[0].doc_id
    # The next batch is in hand (being prepared and embedded), no more: memory stays bounded.
    assert read == [0, 1]
    assert len(list(stream)) == len(documents) - 1


def test_annotate_many_equals_one_document_at_a_time(processor: DocumentProcessor) -> None:
    texts = ["First paragraph here.\n\nSecond one, by Reuters.", "", "Only one. Two sentences."]
    documents = [
        (texts[0], [Span(0, 21), Span(23, len(texts[0]))]),
        (texts[1], []),
        (texts[2], [Span(0, len(texts[2]))]),
    ]
    together = list(processor.annotator.annotate_many(documents))
    apart = [processor.annotator.annotate(text, paragraphs) for text, paragraphs in documents]
    assert together == apart
    assert together[1].sentences == []
    found = [texts[2][s.start : s.end] for s in together[2].sentences]
    assert found == ["Only one.", "Two sentences."]


def test_sliced_encoder_keeps_input_order(embedder: Embedder) -> None:
    texts = [f"{'word ' * (i % 7)}number {i}" for i in range(150)]
    with ThreadPoolExecutor(2) as pool:
        vectors = SlicedEncoder(pool, embedder, workers=2).submit(texts)()
    np.testing.assert_allclose(vectors, embedder.encode_documents(texts), atol=1e-4)
    with ThreadPoolExecutor(2) as pool:
        assert SlicedEncoder(pool, embedder, workers=2).submit([])().shape == (0, 384)


def test_torch_threads_are_restored() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


class _BrokenAnnotator(Annotator):
    def annotate_many(self, documents: Sequence[tuple[str, list[Span]]]) -> Iterator[Annotations]:  # noqa: ARG002
        raise RuntimeError("spaCy failed")


def test_a_failing_worker_stops_the_build(processor: DocumentProcessor) -> None:
    broken = DocumentProcessor(
        processor.embedder,
        _BrokenAnnotator(processor.annotator._nlp),
        processor.chunker,
        workers=2,
    )
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="spaCy failed"):
        broken.process(_documents())
    assert torch.get_num_threads() == before


def test_api_writes_never_touch_torch_threads(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's writer must not switch torch to one thread under running queries.
    import indexer.factory
    from service.state import load_state

    monkeypatch.setattr(indexer.factory, "make_embedder", lambda _: embedder)  # no second load
    state = load_state(settings.model_copy(update={"index_dir": Path("/nonexistent/index")}))
    assert state.writer.processor.workers == 1
