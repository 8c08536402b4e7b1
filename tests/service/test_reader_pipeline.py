"""The optional neural reader wired into the query path, on a tiny random checkpoint."""

from __future__ import annotations

from pathlib import Path

from indexer.embedding import Embedder
from indexer.index import Index
from service.answering.pipeline import QueryEngine
from service.answering.reader_extractor import ReaderExtractor
from service.reading.neural_reader import NeuralReader
from tests.service.test_neural_reader import checkpoint_dir  # noqa: F401  (a fixture)


def test_reader_answers_carry_exact_citations(
    seed_index: Index,
    embedder: Embedder,
    checkpoint_dir: Path,  # noqa: F811
) -> None:
    reader = NeuralReader(checkpoint_dir, max_seq_length=128, doc_stride=32)
    engine = QueryEngine(seed_index, embedder, abstain_threshold=0.0, reader=reader)
    assert isinstance(engine.extractor, ReaderExtractor)
    result = engine.answer("How many people has Mexico extradited?")
    assert result.answer is not None
    for answer in [result.answer, *result.alternatives]:
        citation = answer.citation
        text = seed_index.documents[citation.doc_id].text
        assert text[citation.char_start : citation.char_end] == answer.text
        assert citation.sentence_start <= citation.char_start
        assert citation.char_end <= citation.sentence_end
    assert 0.0 <= result.answer.confidence <= 1.0
